import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { ActivityType } from '../protocol/activity.ts';
import type { RedactionCounts } from '../protocol/redaction.ts';

/**
 * What happened in sessions, one row per event (a keystroke run is one event). Full-text indexed by the
 * `activity_search` FTS5 table (custom migrations 0006–0008), one column per search category.
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
    /** Secrets its stored events show as replaced (`<redacted:kind>` markers), by kind; `{}` for none. */
    redactions: text('redactions', { mode: 'json' }).$type<RedactionCounts>().notNull().default(sql`'{}'`),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.batch] })],
);

/**
 * Cross-session search (worker/activity/search/). Each session's events get search keys
 * `seq × 2^24 + n` — `seq` numbers the session by its first event, `n` counts its events — so in the
 * `activity_search` FTS5 index (custom migration 0006) a session's matches lie together, newest session
 * last. A session with more than 2^24 events continues under a new `seq`.
 */
export const activitySearchSessions = sqliteTable(
  'activity_search_sessions',
  {
    seq: integer('seq').primaryKey(),
    sessionId: text('session_id').notNull(),
    /** Events keyed under this `seq` so far. */
    events: integer('events').notNull().default(0),
  },
  (t) => [index('activity_search_sessions_session').on(t.sessionId, t.seq)],
);

/** Search key → event. */
export const activitySearchKeys = sqliteTable(
  'activity_search_keys',
  {
    key: integer('key').primaryKey(),
    activityId: integer('activity_id').notNull(),
  },
  // Retention deletes a session's events (worker/retention/activity.ts); the delete trigger finds each key here.
  (t) => [index('activity_search_keys_activity').on(t.activityId)],
);

/** Every plain word in `activity_search`, for expanding a prefix into the words it stands for. */
export const activitySearchTerms = sqliteTable('activity_search_terms', {
  term: text('term').primaryKey(),
});

/**
 * Every compound word in `activity_search` (a word with `- . _ / \\` inside, indexed whole beside its parts;
 * migration 0008), with a trigram index (`activity_search_compound_grams`) for finding those that contain a
 * searched spelling.
 */
export const activitySearchCompounds = sqliteTable(
  'activity_search_compounds',
  {
    id: integer('id').primaryKey(),
    term: text('term').notNull(),
  },
  (t) => [uniqueIndex('activity_search_compounds_term').on(t.term)],
);
