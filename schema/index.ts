export * from './auth.ts';
export * from './sessions.ts';
