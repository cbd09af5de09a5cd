/**
 * D1's view of sessions: what the console lists and searches. SessionDO writes it at each transition
 * (started, ended, sealed); the API reads it.
 */
import { eq, getTableColumns } from 'drizzle-orm';
import { pieces, sessions } from '../../schema/index.ts';
import type { EndReason, RecordingStatus } from '../../protocol/session.ts';
import type { Database } from './index.ts';

export type SessionRow = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;

export async function insertSession(db: Database, row: NewSession): Promise<void> {
  await db.insert(sessions).values(row);
}

export async function findSession(db: Database, id: string): Promise<SessionRow | undefined> {
  return db.select().from(sessions).where(eq(sessions.id, id)).get();
}

export async function markStarted(db: Database, id: string, startedAt: number): Promise<void> {
  await db.update(sessions).set({ status: 'active', startedAt }).where(eq(sessions.id, id));
}

export async function markEnded(
  db: Database,
  id: string,
  ended: { reason: EndReason; endedAt: number; durationMs: number; recordingStatus: RecordingStatus },
): Promise<void> {
  await db
    .update(sessions)
    .set({
      status: 'ended',
      endReason: ended.reason,
      endedAt: ended.endedAt,
      durationMs: ended.durationMs,
      recordingStatus: ended.recordingStatus,
    })
    .where(eq(sessions.id, id));
}

export interface SealedRecording {
  recordingStatus: RecordingStatus;
  bytes: number;
  pieces: number;
  missingPieces: Array<{ from: number; to: number }>;
  recordingBytes: number | null;
  mediaDurationMs: number | null;
  recordingError: string | null;
}

export async function markSealed(db: Database, id: string, sealed: SealedRecording): Promise<void> {
  await db.update(sessions).set(sealed).where(eq(sessions.id, id));
}

type PieceIndexRow = typeof pieces.$inferInsert;
/** D1 allows 100 bound parameters a statement, one per column of each row. */
const ROWS_PER_STATEMENT = Math.floor(100 / Object.keys(getTableColumns(pieces)).length);
const STATEMENTS_PER_BATCH = 50;

/** Copies the chunk index into D1; safe to repeat (rows already there are kept). */
export async function copyPieceIndex(db: Database, rows: readonly PieceIndexRow[]): Promise<void> {
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    statements.push(
      db
        .insert(pieces)
        .values(rows.slice(i, i + ROWS_PER_STATEMENT))
        .onConflictDoNothing(),
    );
  }
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
    const batch = statements.slice(i, i + STATEMENTS_PER_BATCH);
    const [first, ...rest] = batch;
    if (first) await db.batch([first, ...rest]);
  }
}

/** Where the session was recorded from (durable/session-record.ts `Endpoints`), as its launcher said hello. */
export async function recordEndpoints(db: Database, id: string, endpoints: SessionRow['endpoints']): Promise<void> {
  await db.update(sessions).set({ endpoints }).where(eq(sessions.id, id));
}

/** How the launcher captured activity (its last `capture` message), for the session's record. */
export async function recordCapture(db: Database, id: string, capture: SessionRow['capture']): Promise<void> {
  await db.update(sessions).set({ capture }).where(eq(sessions.id, id));
}
