import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { CaptureStatus, SessionEndpoints } from '../protocol/control.ts';
import type { RetentionMark } from '../protocol/lifecycle.ts';
import type {
  AgentLogin,
  EndReason,
  Policy,
  PolicySource,
  Protocol,
  RecordingFormat,
  RecordingLevel,
  RecordingStatus,
  SessionOrigin,
  SessionStatus,
} from '../protocol/session.ts';

/** One recorded session: who, where, when, how it ended, and what was recorded. */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    user: text('user').notNull(),
    target: text('target').notNull(),
    protocol: text('protocol').$type<Protocol>().notNull(),
    /** What the recording is: a WebM video (desktop launcher) or an asciicast v2 terminal log (SSH proxy). */
    format: text('format').$type<RecordingFormat>().notNull().default('webm'),
    status: text('status').$type<SessionStatus>().notNull(),
    endReason: text('end_reason').$type<EndReason>(),
    /** Epoch ms. */
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    endedAt: integer('ended_at'),
    durationMs: integer('duration_ms'),
    /** The settings in force at launch; the session obeys this copy whatever changes later. */
    policy: text('policy', { mode: 'json' }).$type<Policy>().notNull(),
    /** Who asked for the launch (API key id). */
    launchedBy: text('launched_by').notNull(),
    /** Whether `policy` is the settings as they were, made stricter by the launch, or weakened by an override. */
    policySource: text('policy_source').$type<PolicySource>().notNull().default('settings'),
    /** The fields the launch changed from the settings (JSON array of Policy keys; empty when none). */
    policyChanges: text('policy_changes', { mode: 'json' }).$type<Array<keyof Policy>>().notNull().default(sql`'[]'`),
    recordingStatus: text('recording_status').$type<RecordingStatus>().notNull(),
    /** Basic (screen only) or advanced (plus keystrokes, processes, windows), resolved by target at launch. */
    recordingLevel: text('recording_level').$type<RecordingLevel>().notNull().default('advanced'),
    /** The storage location (server/storage.ts) its media is saved in, chosen by target at launch. */
    storage: text('storage').notNull().default('RECORDINGS'),
    /** `agent`: a login witness-agent recorded on its host without anyone launching it; else `launched`. */
    origin: text('origin').$type<SessionOrigin>().notNull().default('launched'),
    /** The agent's login (its tty and remote address); null for launched sessions. */
    agentLogin: text('agent_login', { mode: 'json' }).$type<AgentLogin>(),
    /** Bytes of all stored pieces. */
    bytes: integer('bytes').notNull().default(0),
    pieces: integer('pieces').notNull().default(0),
    /** Media time covered by the sealed recording, ms. */
    mediaDurationMs: integer('media_duration_ms'),
    /** Size of the sealed recording.webm. */
    recordingBytes: integer('recording_bytes'),
    /** JSON array of {from, to} sequence ranges that never arrived. */
    missingPieces: text('missing_pieces', { mode: 'json' }).$type<Array<{ from: number; to: number }>>(),
    recordingError: text('recording_error'),
    /**
     * Where it was recorded from: the launcher's host (name, addresses), the SSH client (address, port) and the
     * address the control socket came from; null until a launcher said hello.
     */
    endpoints: text('endpoints', { mode: 'json' }).$type<SessionEndpoints>(),
    /**
     * How the launcher captured activity (protocol/control.ts `CaptureStatus`): the process capture's method
     * (`netlink`: every process; `poll`: short ones may be missed; `none`) and what it counted and left out.
     * The launcher's last word; null until it said (an SSH session, or a launcher older than this).
     */
    capture: text('capture', { mode: 'json' }).$type<CaptureStatus>(),
    /**
     * What retention did to the media (protocol/lifecycle.ts `RetentionMark`): null, archived, deleting (decided,
     * under way) or deleted. Only D1 holds it; the session object never does.
     */
    retention: text('retention').$type<RetentionMark>(),
    /** When the media was moved to the archive bucket (epoch ms). */
    archivedAt: integer('archived_at'),
    /** When retention decided to delete the media (epoch ms): reads are refused from then on. */
    mediaDeletedAt: integer('media_deleted_at'),
    /** A legal hold (flag beside the phase): when, by whom and why. Held sessions are never deleted. */
    heldAt: integer('held_at'),
    heldBy: text('held_by'),
    holdReason: text('hold_reason'),
  },
  (t) => [
    index('sessions_status_started').on(t.status, t.createdAt),
    index('sessions_user').on(t.user, t.createdAt),
    index('sessions_target').on(t.target, t.createdAt),
    index('sessions_created').on(t.createdAt),
    // The retention sweep's selections: by mark, oldest end first.
    index('sessions_retention').on(t.retention, t.endedAt),
  ],
);

/** The recording's chunk index, copied from the session's Durable Object when the recording is sealed. */
export const pieces = sqliteTable(
  'pieces',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    size: integer('size').notNull(),
    startMs: integer('start_ms').notNull(),
    endMs: integer('end_ms').notNull(),
    keyframe: integer('keyframe', { mode: 'boolean' }).notNull(),
    sha256: text('sha256').notNull(),
    storedAt: integer('stored_at').notNull(),
    /** The upload attempt whose object holds the bytes (`pieceKey`); null for pieces stored before attempts. */
    attempt: text('attempt'),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] }), index('pieces_time').on(t.sessionId, t.startMs)],
);

/**
 * One run of the retention sweep (worker/retention/sweep.ts): when it ran, what it was asked (the cutoffs) and
 * what it did so far, written after every batch, so a run that was cut short says how far it got.
 */
export const retentionRuns = sqliteTable('retention_runs', {
  id: text('id').primaryKey(),
  startedAt: integer('started_at').notNull(),
  /** Null while running, or when the run was interrupted (the next run says it resumed it). */
  finishedAt: integer('finished_at'),
  summary: text('summary', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
});

/** Recording settings (one JSON row per key). */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value', { mode: 'json' }).notNull(),
  updatedAt: integer('updated_at').notNull().default(sql`(unixepoch() * 1000)`),
});
