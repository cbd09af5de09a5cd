/** Stores an activity batch: idempotent on its number, atomic (the batch record and its events together). */
import { and, eq, sql } from 'drizzle-orm';
import { type ActivityAck, EVENT_CLOCK_SLACK_MS } from '../../protocol/activity.ts';
import { activity, activityBatches } from '../../schema/index.ts';
import { database } from '../../server/db/index.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { ApiError } from '../errors.ts';
import { redactionSettings } from '../settings.ts';
import { checkEvents } from './events.ts';
import { activityPartitions } from '../../server/activity/partitions.ts';
import { FLUSH_SEARCH_TERMS } from './search/terms.ts';

/** activity has 15 columns; D1 allows 100 bound parameters a statement. */
const ROWS_PER_STATEMENT = 6;

export async function storeBatch(
  env: Env,
  session: SessionRow,
  batch: number,
  sha256: string,
  events: readonly unknown[],
): Promise<ActivityAck> {
  const db = database(activityPartitions(env).forSession(session.createdAt));
  const previous = await db
    .select()
    .from(activityBatches)
    .where(and(eq(activityBatches.sessionId, session.id), eq(activityBatches.batch, batch)))
    .get();
  if (previous) {
    if (previous.sha256 !== sha256) {
      throw new ApiError(409, 'batch_conflict', `Batch ${batch} is already stored with different content.`);
    }
    return { batch, stored: previous.stored, rejected: previous.rejected, duplicate: true };
  }
  const startedAt = session.startedAt ?? Date.now();
  const checked = checkEvents(events, {
    sessionId: session.id,
    batch,
    keystrokesEnabled: session.policy.keystrokesEnabled,
    recordingLevel: session.recordingLevel,
    latestMs: Date.now() - startedAt + EVENT_CLOCK_SLACK_MS,
    customPatterns: (await redactionSettings(database(env.DB))).patterns,
  });
  const record = db.insert(activityBatches).values({
    sessionId: session.id,
    batch,
    sha256,
    stored: checked.rows.length,
    rejected: checked.rejected,
    receivedAt: Date.now(),
    redactions: checked.redactions,
  });
  const inserts = [];
  for (let i = 0; i < checked.rows.length; i += ROWS_PER_STATEMENT) {
    inserts.push(db.insert(activity).values(checked.rows.slice(i, i + ROWS_PER_STATEMENT)));
  }
  // One D1 batch is one transaction: the batch is recorded with all its events (and their search terms) or
  // not at all.
  await db.batch([record, ...inserts, ...FLUSH_SEARCH_TERMS.map((statement) => db.run(sql.raw(statement)))]);
  return { batch, stored: checked.rows.length, rejected: checked.rejected, duplicate: false };
}
