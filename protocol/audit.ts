/** The actions the audit log records (worker/audit.ts writes them; the console filters by them). */
export const AUDIT_ACTIONS = [
  'login.succeeded',
  'login.failed',
  /** A run of failed sign-ins began to make attempts at an account wait (once per run; see access-control.md). */
  'login.throttled',
  /** Older entries only: the account lock that login.throttled replaced. */
  'login.locked',
  'logout',
  'password.changed',
  'session.launched',
  'session.watched_live',
  'session.messaged',
  'session.terminated',
  /** The server closed a viewer's or launcher's socket that sent too much (durable/socket-guard.ts). */
  'socket.closed_for_flood',
  /** Reads of recorded data are audited once per principal, session and hour (worker/audit.ts `auditRead`). */
  'recording.viewed',
  'recording.downloaded',
  'evidence.downloaded',
  /** A session's activity events or its activity map were read. */
  'activity.viewed',
  /** A session's activity (CSV, JSON) or terminal transcript was downloaded: one row per download. */
  'activity.exported',
  /** A search across sessions, with its query. */
  'sessions.searched',
  'settings.changed',
  /** MP4 processing (docs/processing.md): asked for, retried (one or every failed one), and what processors did. */
  'processing.requested',
  'processing.retried',
  'processing.leased',
  'processing.failed',
  'processing.completed',
  /** A processor read a job's source recording (counted per hour, like every read of recorded data). */
  'processing.source_read',
  /** Retention (docs/retention.md): one row per sweep run with what it did, one per session it acted on. */
  'retention.run',
  'session.archived',
  'session.media_deleted',
  /** A legal hold placed on a session, or released; each with its reason. */
  'session.held',
  'session.released',
  'user.created',
  'user.updated',
  /** An administrator cleared a user's failed sign-ins. */
  'user.unlocked',
  'key.created',
  'key.revoked',
  /** The audit log itself was exported (CSV or JSON), with the filters that chose its rows. */
  'audit.exported',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
