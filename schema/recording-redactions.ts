/** Secrets a terminal recording's pieces show as replaced (protocol/redaction.ts markers), counted at ingest. */
import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { RedactionCounts } from '../protocol/redaction.ts';

/** One row per stored piece that holds markers (pieces without any have none); a retry writes nothing new. */
export const recordingRedactions = sqliteTable(
  'recording_redactions',
  {
    sessionId: text('session_id').notNull(),
    seq: integer('seq').notNull(),
    /** `<redacted:kind>` markers in the piece's events, by kind. */
    redactions: text('redactions', { mode: 'json' }).$type<RedactionCounts>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] })],
);
