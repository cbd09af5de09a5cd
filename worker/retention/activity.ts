/**
 * Retention deletes a session's activity with its media: the events (the search index follows through the
 * delete trigger of migration 0006, which finds each event's key by `activity_search_keys_activity`) and the
 * session's search numbering. The batch receipts (`activity_batches`: digests, counts, redaction counts) stay:
 * they say what was received, not what happened.
 */
import { activityPartitions } from '../../server/activity/partitions.ts';
import type { StepOutcome, SweepBudget } from './budget.ts';

/** Events deleted a statement: each runs the search index's delete trigger, so a statement stays short. */
const EVENTS_PER_STATEMENT = 500;

/** Deletes the session's events, a bounded statement at a time, until none are left or the budget runs out. */
export async function deleteActivity(
  env: Env,
  session: { id: string; createdAt: number },
  budget: SweepBudget,
): Promise<{ outcome: StepOutcome; events: number }> {
  const db = activityPartitions(env).forSession(session.createdAt);
  let events = 0;
  for (;;) {
    if (budget.exhausted) return { outcome: 'incomplete', events };
    // RETURNING counts the events themselves (`meta.changes` counts the trigger's rows too).
    const { results } = await db
      .prepare(
        `DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE session_id = ?1 ORDER BY id LIMIT ?2)
         RETURNING id`,
      )
      .bind(session.id, EVENTS_PER_STATEMENT)
      .all<{ id: number }>();
    budget.spend();
    events += results.length;
    if (results.length < EVENTS_PER_STATEMENT) break;
  }
  await db.prepare(`DELETE FROM activity_search_sessions WHERE session_id = ?1`).bind(session.id).run();
  budget.spend();
  return { outcome: 'done', events };
}
