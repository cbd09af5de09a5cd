/**
 * Search inside one session (`GET /api/v1/sessions/{id}/activity?q=`): every word anywhere in an event, read
 * over the session's own search keys only (one range per `seq`, docs/activity.md), so the work is bounded by
 * the session's matches, whatever the rest of the database holds.
 */
import { type SQL, sql } from 'drizzle-orm';
import { SEARCH_KEYS_PER_SEQ } from './keys.ts';
import { ANY_COLUMN, searchExpression } from './query.ts';

/**
 * The ids of a session's events that match `text`, as a subquery; null when none can (nothing in `text` can
 * match, or the session has no events).
 */
export async function sessionMatches(db: D1Database, sessionId: string, text: string): Promise<SQL | null> {
  const expression = await searchExpression(db, text, ANY_COLUMN);
  return expression && sessionSearchKeys(db, sessionId, expression.match);
}

/** The ids of a session's events that match an FTS5 expression, as a subquery; null when it has no events. */
async function sessionSearchKeys(db: D1Database, sessionId: string, match: string): Promise<SQL | null> {
  const { results } = await db
    .prepare('SELECT seq FROM activity_search_sessions WHERE session_id = ?1 ORDER BY seq')
    .bind(sessionId)
    .all<{ seq: number }>();
  if (results.length === 0) return null;
  const ranges = results.map(
    ({ seq }) =>
      sql`SELECT k.activity_id FROM activity_search f JOIN activity_search_keys k ON k.key = f.rowid
           WHERE f.activity_search MATCH ${match} AND f.rowid >= ${seq * SEARCH_KEYS_PER_SEQ}
             AND f.rowid < ${(seq + 1) * SEARCH_KEYS_PER_SEQ}`,
  );
  return sql`(${sql.join(ranges, sql` UNION ALL `)})`;
}
