/**
 * The record a session's object keeps in its storage: its shape, versioned, and read through one function that
 * validates it and migrates older shapes. A record that fails validation is never used as if it were whole: the
 * object refuses to run on it (RecordUnreadable), so a later change of shape cannot corrupt a live session quietly.
 */
import { z } from 'zod';
import { SessionEndpoints } from '../protocol/control.ts';
import { DEFAULT_STORAGE, StorageName } from '../protocol/recording-rules.ts';
import {
  EndReason,
  Policy,
  Protocol,
  RecordingFormat,
  RecordingLevel,
  RecordingStatus,
  SessionStatus,
} from '../protocol/session.ts';

/**
 * 1 had no `version` field, and lacked `format` before formats existed and `lastHeardAt` before crashes were
 * noticed; 2 lacked `endpoints` and `warnedFor`.
 */
export const RECORD_VERSION = 3 as const;

const epochMs = z.number().int().nonnegative();

export const SessionRecord = z.strictObject({
  version: z.literal(RECORD_VERSION),
  sessionId: z.string().min(1),
  user: z.string(),
  target: z.string(),
  protocol: Protocol,
  /** WebM video or an asciicast terminal log. */
  format: RecordingFormat,
  status: SessionStatus,
  endReason: EndReason.nullable(),
  // Records from before recording levels and storage locations: advanced, in the default bucket (any version).
  policy: Policy.extend({ recordingLevel: RecordingLevel.default('advanced') }),
  storage: StorageName.default(DEFAULT_STORAGE),
  createdAt: epochMs,
  launchExpiresAt: epochMs,
  startedAt: epochMs.nullable(),
  endedAt: epochMs.nullable(),
  lastActivityAt: epochMs.nullable(),
  reportsActivity: z.boolean(),
  launcherLostAt: epochMs.nullable(),
  /** When the launcher was last heard from: hello, a control message, a stored piece (heartbeats are read live). */
  lastHeardAt: epochMs.nullable(),
  recordingStatus: RecordingStatus,
  /** Highest seq the launcher said it produced (from its `end` message). */
  declaredLastSeq: z.number().int().min(-1).nullable(),
  /** The launcher sent `end`: once `declaredLastSeq` pieces are in, nothing more will come. */
  launcherFinished: z.boolean(),
  sealAt: epochMs.nullable(),
  sealAttempts: z.number().int().nonnegative(),
  recordingError: z.string().nullable(),
  /** Null until a launcher said hello. */
  endpoints: SessionEndpoints.nullable(),
  /** The end the user was last warned of (durable/deadlines.ts): once per reason and end time. */
  warnedFor: z.strictObject({ reason: z.enum(['inactivity_timeout', 'maximum_length']), endsAt: epochMs }).nullable(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

/** A stored record this code cannot use: what was wrong with it, for the log and the caller's error. */
export class RecordUnreadable extends Error {
  constructor(message: string) {
    super(`the session's stored record cannot be read: ${message}`);
    this.name = 'RecordUnreadable';
  }
}

/** Version 2 as it was stored: the current shape less `endpoints`. */
const RecordV2 = SessionRecord.omit({ endpoints: true, warnedFor: true }).extend({ version: z.literal(2) });

/** Version 1 as it was stored: version 2 less `version`, with `format` and `lastHeardAt` possibly absent. */
const RecordV1 = RecordV2.omit({ version: true }).extend({
  format: RecordingFormat.default('webm'),
  lastHeardAt: epochMs.nullable().default(null),
});

/** The record in `json` (as stored), migrated to the current version and validated. */
export function readRecord(json: string): SessionRecord {
  let stored: unknown;
  try {
    stored = JSON.parse(json);
  } catch (error) {
    throw new RecordUnreadable(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const version = typeof stored === 'object' && stored !== null ? (stored as { version?: unknown }).version : null;
  const parsed =
    version === undefined
      ? RecordV1.transform((v1) => ({ ...v1, version: RECORD_VERSION, endpoints: null, warnedFor: null })).safeParse(
          stored,
        )
      : version === 2
        ? RecordV2.transform((v2) => ({ ...v2, version: RECORD_VERSION, endpoints: null, warnedFor: null })).safeParse(
            stored,
          )
        : SessionRecord.safeParse(stored);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`);
    throw new RecordUnreadable(`version ${String(version ?? 1)}: ${issues.join('; ')}`);
  }
  return parsed.data;
}
