export * from './activity.ts';
export * from './auth.ts';
export * from './sessions.ts';
export * from './processing.ts';
export * from './recording-redactions.ts';
