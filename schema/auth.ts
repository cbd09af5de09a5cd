import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { ApiKeyScope, Permission } from '../protocol/permissions.ts';

/** Console accounts. Passwords are PBKDF2-SHA256 hashes (see worker/auth/password.ts). */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  username: text('username').notNull().unique(),
  displayName: text('display_name').notNull(),
  passwordHash: text('password_hash').notNull(),
  permissions: text('permissions', { mode: 'json' }).$type<Permission[]>().notNull(),
  mustChangePassword: integer('must_change_password', { mode: 'boolean' }).notNull().default(false),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull(),
  lastLoginAt: integer('last_login_at'),
});

/** Console login sessions; the cookie holds a random token, only its SHA-256 is stored. */
export const loginSessions = sqliteTable(
  'login_sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    /** Absolute expiry: the session ends then however active it is. */
    expiresAt: integer('expires_at').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('login_sessions_user').on(t.userId)],
);

/** API keys: shown once, stored as SHA-256 (they are 256-bit random), revocable. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** The first characters of the key, to recognise it in lists. */
  prefix: text('prefix').notNull(),
  secretHash: text('secret_hash').notNull().unique(),
  scopes: text('scopes', { mode: 'json' }).$type<ApiKeyScope[]>().notNull(),
  /** For `agent` keys: the one host (target) it may launch sessions on. */
  host: text('host'),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at'),
  lastUsedAt: integer('last_used_at'),
  revokedAt: integer('revoked_at'),
});

/**
 * Sign-in throttling (worker/auth/sign-in-throttle.ts): failed sign-ins per account and client address, and per
 * account from every address it has not recently signed in from (`scope` `*`). Rows are keyed by the username
 * as typed, whether or not such a user exists, so unknown names are throttled exactly like real ones.
 */
export const loginThrottle = sqliteTable(
  'login_throttle',
  {
    username: text('username').notNull(),
    /** The address's throttle key (an IPv4 address, an IPv6 /64, or `untrusted`), or `*` for the account. */
    scope: text('scope').notNull(),
    /** Failures counted since the count was last cleared or forgotten (an attempt counts while it is checked). */
    failures: integer('failures').notNull().default(0),
    lastFailureAt: integer('last_failure_at'),
    /** The last successful sign-in from this address: such an address is not held back by the account's limit. */
    lastSuccessAt: integer('last_success_at'),
    /** When the current run of failures was written to the audit log as `login.throttled` (once per run). */
    reportedAt: integer('reported_at'),
  },
  (t) => [primaryKey({ columns: [t.username, t.scope] })],
);

/** Who did what, when, from where. Append-only: triggers in the migration refuse UPDATE and DELETE. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actorKind: text('actor_kind').notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_at').on(t.at),
    index('audit_actor').on(t.actorName, t.at),
    index('audit_action').on(t.action, t.at),
    index('audit_target').on(t.targetId, t.at),
  ],
);

/**
 * Reads of one session's recorded data by one principal, an hour at a time (worker/audit.ts `auditRead`): the
 * first read of a window writes the audit row, the rest only count here — so a player's hundred Range requests,
 * or a bulk evidence download's thousand pieces, are one readable row with its totals beside it.
 */
export const readWindows = sqliteTable(
  'read_windows',
  {
    actorId: text('actor_id').notNull(),
    sessionId: text('session_id').notNull(),
    /** What was read: `recording`, `evidence`, `activity`, `density`. */
    kind: text('kind').notNull(),
    /** Start of the hour (epoch ms). */
    windowStart: integer('window_start').notNull(),
    firstAt: integer('first_at').notNull(),
    lastAt: integer('last_at').notNull(),
    requests: integer('requests').notNull(),
    /** Bytes served (recordings and evidence), and the lowest and highest byte offset asked for. */
    bytes: integer('bytes').notNull().default(0),
    lowestByte: integer('lowest_byte'),
    highestByte: integer('highest_byte'),
  },
  (t) => [primaryKey({ columns: [t.actorId, t.sessionId, t.kind, t.windowStart] })],
);
