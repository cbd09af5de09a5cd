/**
 * Full-text search over activity (FTS5). User text never reaches FTS5's query syntax: every word becomes a
 * quoted phrase (the last one a prefix when it is long enough to be cheap), so `a OR b`, `"`, `*` or `NEAR(`
 * are searched for, not obeyed.
 */
import { SEARCH_IN, type SearchIn } from '../../protocol/activity.ts';

/** FTS5 columns each search category looks in. */
const COLUMNS: Record<SearchIn, readonly string[]> = {
  keystrokes: ['text'],
  ssh: ['text'],
  apps: ['app'],
  processes: ['name', 'path', 'text'],
  windows: ['title'],
};

/** A last word shorter than this is matched whole: a one- or two-letter prefix matches half the index. */
const MIN_PREFIX = 3;
/**
 * Matches read per category, newest first, and at most in all. Reading further finds more sessions for common
 * words but costs time linearly (measured: 10,000 rows took p95 from ~40 ms to ~630 ms over 1M events); a
 * common word therefore finds the sessions of its newest thousand matches (docs/activity.md).
 */
const ROUND_ROWS = 1000;
const MAX_SCANNED_ROWS = 1000;

/** An FTS5 MATCH expression for `text` restricted to `columns`; null when the text has no words. */
export function ftsQuery(text: string, columns: readonly string[] | null = null): string | null {
  const words = text
    .split(/\s+/)
    .map((w) => w.replace(/\p{Cc}/gu, ''))
    .filter(Boolean)
    .slice(0, 16);
  if (words.length === 0) return null;
  const terms = words
    .map((w, i) => {
      const prefix = i === words.length - 1 && [...w].length >= MIN_PREFIX ? '*' : '';
      return `"${w.replaceAll('"', '""')}"${prefix}`;
    })
    .join(' ');
  return columns ? `{${columns.join(' ')}} : (${terms})` : terms;
}

export interface ActivityMatch {
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
  snippet: string;
}

interface MatchRow {
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
}

/**
 * Sessions whose activity matches, newest match first: up to `maxSessions` sessions (for which `accept` says
 * yes) with up to `perSession` matches each. Reads matches newest-first in rounds, without snippets, and makes
 * snippets only for the matches it returns.
 */
export async function searchSessions(
  databases: readonly D1Database[],
  text: string,
  within: readonly SearchIn[],
  options: { perSession: number; maxSessions: number; accept: (sessionIds: string[]) => Promise<Set<string>> },
): Promise<Map<string, ActivityMatch[]>> {
  const found = new Map<string, MatchRow[]>();
  const rejected = new Set<string>();
  for (const db of databases) {
    const queries = within.flatMap((category) => {
      const match = ftsQuery(text, COLUMNS[category]);
      return match ? [{ match, types: SEARCH_IN[category] as readonly string[] }] : [];
    });
    if (queries.length === 0) continue;
    let before = Number.MAX_SAFE_INTEGER;
    for (let scanned = 0; scanned < MAX_SCANNED_ROWS && found.size < options.maxSessions; ) {
      // One round trip for every category: each reads its newest matches below `before`.
      const results = await db.batch<MatchRow>(
        queries.map(({ match, types }) =>
          db
            .prepare(
              `SELECT a.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs
                 FROM activity_fts JOIN activity a ON a.id = activity_fts.rowid
                WHERE activity_fts MATCH ?1 AND activity_fts.rowid < ?2
                  AND a.type IN (${types.map((_, i) => `?${i + 3}`).join(', ')})
                ORDER BY activity_fts.rowid DESC LIMIT ${ROUND_ROWS}`,
            )
            .bind(match, before, ...types),
        ),
      );
      const rows = [...new Map(results.flatMap((r) => r.results).map((row) => [row.id, row])).values()]
        .sort((a, b) => b.id - a.id)
        .slice(0, ROUND_ROWS);
      if (rows.length === 0) break;
      scanned += rows.length;
      before = (rows.at(-1) as MatchRow).id;
      const unseen = [...new Set(rows.map((r) => r.sessionId))].filter((id) => !found.has(id) && !rejected.has(id));
      const accepted = unseen.length ? await options.accept(unseen) : new Set<string>();
      for (const id of unseen) if (!accepted.has(id)) rejected.add(id);
      for (const row of rows) {
        if (rejected.has(row.sessionId)) continue;
        const list = found.get(row.sessionId) ?? [];
        if (!found.has(row.sessionId) && found.size >= options.maxSessions) continue;
        if (list.length < options.perSession) list.push(row);
        found.set(row.sessionId, list);
      }
      if (rows.length < ROUND_ROWS) break;
    }
  }
  return withSnippets(databases, text, found);
}

/** Adds FTS5 snippets to the matches that will be shown (and only those: snippet() is the costly part). */
async function withSnippets(
  databases: readonly D1Database[],
  text: string,
  found: Map<string, MatchRow[]>,
): Promise<Map<string, ActivityMatch[]>> {
  const match = ftsQuery(text);
  const ids = [...found.values()].flat().map((m) => m.id);
  const snippets = new Map<number, string>();
  if (match) {
    for (const db of databases) {
      for (let i = 0; i < ids.length; i += 90) {
        const chunk = ids.slice(i, i + 90);
        const { results } = await db
          .prepare(
            `SELECT rowid AS id, snippet(activity_fts, -1, '[', ']', '…', 10) AS snippet FROM activity_fts
              WHERE activity_fts MATCH ?1 AND rowid IN (${chunk.map((_, j) => `?${j + 2}`).join(', ')})`,
          )
          .bind(match, ...chunk)
          .all<{ id: number; snippet: string }>();
        for (const row of results) snippets.set(row.id, row.snippet);
      }
    }
  }
  const out = new Map<string, ActivityMatch[]>();
  for (const [sessionId, rows] of found) {
    out.set(
      sessionId,
      rows.map((row) => ({ ...row, snippet: snippets.get(row.id) ?? '' })).sort((a, b) => a.offsetMs - b.offsetMs),
    );
  }
  return out;
}
