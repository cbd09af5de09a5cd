export * from './activity.ts';
export * from './auth.ts';
export * from './sessions.ts';
