import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { ActivityType } from '../protocol/activity.ts';

/**
 * What happened in sessions, one row per event (a keystroke run is one event). Full-text indexed by the
 * `activity_fts` FTS5 table (custom migration), over text, app, title, name and path.
 */
export const activity = sqliteTable(
  'activity',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sessionId: text('session_id').notNull(),
    batch: integer('batch').notNull(),
    /** Position in its batch: (session, batch, idx) orders events as they were sent. */
    idx: integer('idx').notNull(),
    type: text('type').$type<ActivityType>().notNull(),
    /** Session clock, ms. */
    atMs: integer('at_ms').notNull(),
    endMs: integer('end_ms'),
    /** Typed text (keys, ssh.input), a command (ssh.command) or a process's command line. */
    text: text('text'),
    app: text('app'),
    title: text('title'),
    /** Process name. */
    name: text('name'),
    /** Full path of a process's executable. */
    path: text('path'),
    user: text('user'),
    pid: integer('pid'),
    ppid: integer('ppid'),
    /** Bytes moved by a file transfer. */
    size: integer('size'),
    redacted: integer('redacted', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    index('activity_session_time').on(t.sessionId, t.atMs),
    index('activity_session_type').on(t.sessionId, t.type),
  ],
);

/** Each ingested batch, for idempotent retries: same number and body → same answer. */
export const activityBatches = sqliteTable(
  'activity_batches',
  {
    sessionId: text('session_id').notNull(),
    batch: integer('batch').notNull(),
    sha256: text('sha256').notNull(),
    stored: integer('stored').notNull(),
    rejected: text('rejected', { mode: 'json' }).$type<Array<{ index: number; reason: string }>>().notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.batch] })],
);
