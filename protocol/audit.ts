/** The actions the audit log records (worker/audit.ts writes them; the console filters by them). */
export const AUDIT_ACTIONS = [
  'login.succeeded',
  'login.failed',
  'login.locked',
  'logout',
  'password.changed',
  'session.launched',
  'session.watched_live',
  'session.messaged',
  'session.terminated',
  'recording.viewed',
  'recording.downloaded',
  'evidence.downloaded',
  'settings.changed',
  'user.created',
  'user.updated',
  'key.created',
  'key.revoked',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
