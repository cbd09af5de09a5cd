/**
 * Search keys: the rowids of `activity_search`, `seq × 2^24 + n` (a session's `seq`, its `n`th event; migration
 * 0006), so a session's matches are adjacent and read newest session first in descending order. Here: their
 * layout, and reading a search's match keys newest first in growing steps.
 */
import type { SearchExpression } from './query.ts';

/** Search keys per `seq`: 2^24 events; beyond that a session continues under a new `seq` (migration 0006). */
export const KEY_BITS = 24;
export const SEARCH_KEYS_PER_SEQ = 2 ** KEY_BITS;
/** The highest search key bound (keys stay below 2^53, exact as JavaScript numbers). */
export const NO_BOUND = 2 ** 53;

/** The `seq` of the session a search key belongs to. */
export function seqOf(key: number): number {
  return Math.floor(key / 2 ** KEY_BITS);
}

/**
 * The search keys of matches below key `?2`, newest first, at most `?3`, as one JSON array: FTS5 hands
 * rowids over in descending order and nothing else is done per row (a `lag()` window to keep each session's
 * first few cost ~0.5 µs a row, five times the read itself; measured in docs/benchmarks.md). The MATCH
 * expression is `?1`, or, when `?4` is a template, `?4` with its last word expanded into the terms in
 * [`?6`, `?7`) (each as a phrase after `?5`) if there are 1…`?8` of them.
 */
const KEYS_SQL = `
  SELECT json_group_array(key) AS keys FROM (
    SELECT rowid AS key FROM activity_search
     WHERE activity_search MATCH (
             CASE WHEN ?4 IS NULL THEN ?1 ELSE coalesce((
               SELECT CASE WHEN count(*) BETWEEN 1 AND ?8
                      THEN replace(?4, char(1), '(' || group_concat('"' || ?5 || replace(term, '"', '""') || '"', ' OR ') || ')')
                      END
                 FROM (SELECT term FROM activity_search_terms
                        WHERE term >= ?6 AND term < ?7 ORDER BY term LIMIT ?8 + 1)), ?1) END)
       AND rowid < ?2
     ORDER BY rowid DESC
     LIMIT ?3)`;

/**
 * Keys the next read asks for. First a page's worth of keys (enough when sessions have few matches each; an
 * expensive phrase then reads no further than it must); then what the sessions still needed should hold at
 * the matches per session seen so far (a common word: one more read), never less than the first read, and
 * twice the last read when that one did not even finish a session.
 */
const MAX_READ = 65_536;
export function nextRead(
  first: number,
  last: number,
  progressed: boolean,
  keysRead: number,
  sessionsRead: number,
  sessionsNeeded: number,
): number {
  const estimate = Math.ceil((keysRead / Math.max(1, sessionsRead)) * (sessionsNeeded + 1) * 1.1);
  return Math.min(MAX_READ, Math.max(first, estimate, progressed ? 0 : last * 2));
}

/** Up to `limit` match keys below `bound`, newest first. */
export async function readKeys(
  db: D1Database,
  expression: SearchExpression,
  bound: number,
  limit: number,
): Promise<number[]> {
  const row = await db
    .prepare(KEYS_SQL)
    .bind(
      expression.match,
      bound,
      limit,
      expression.template,
      expression.head,
      expression.from,
      expression.to,
      expression.most,
    )
    .first<{ keys: string }>();
  const keys = JSON.parse(row?.keys ?? '[]') as number[];
  // SQLite aggregates a subquery's rows in its order; should a version not, the grouping still holds.
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i] as number) >= (keys[i - 1] as number)) return keys.sort((a, b) => b - a);
  }
  return keys;
}
