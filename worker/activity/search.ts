/**
 * Full-text search over activity (FTS5). User text never reaches FTS5's query syntax: every word becomes a
 * quoted phrase (the last one a prefix), so `a OR b`, `"`, `*` or `NEAR(` are searched for, not obeyed.
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

/** An FTS5 MATCH expression for `text` restricted to `columns`; null when the text has no words. */
export function ftsQuery(text: string, columns: readonly string[] | null = null): string | null {
  const words = text
    .split(/\s+/)
    .map((w) => w.replace(/\p{Cc}/gu, ''))
    .filter(Boolean)
    .slice(0, 16);
  if (words.length === 0) return null;
  const terms = words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
  return columns ? `{${columns.join(' ')}} : (${terms})` : terms;
}

export interface ActivityMatch {
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
  snippet: string;
}

/** Matches across sessions, per category in `within`, at most `perSession` each, newest events first. */
export async function searchSessions(
  databases: readonly D1Database[],
  text: string,
  within: readonly SearchIn[],
  options: { perSession: number; maxSessions: number },
): Promise<Map<string, ActivityMatch[]>> {
  const found = new Map<string, ActivityMatch[]>();
  for (const db of databases) {
    for (const category of within) {
      const match = ftsQuery(text, COLUMNS[category]);
      if (!match) continue;
      const types: readonly string[] = SEARCH_IN[category];
      const { results } = await db
        .prepare(
          `SELECT a.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs,
                  snippet(activity_fts, -1, '[', ']', '…', 10) AS snippet
             FROM activity_fts JOIN activity a ON a.id = activity_fts.rowid
            WHERE activity_fts MATCH ?1 AND a.type IN (${types.map((_, i) => `?${i + 2}`).join(', ')})
            ORDER BY activity_fts.rowid DESC
            LIMIT ${options.maxSessions * options.perSession}`,
        )
        .bind(match, ...types)
        .all<ActivityMatch>();
      for (const row of results) {
        const list = found.get(row.sessionId) ?? [];
        if (list.length < options.perSession && !list.some((m) => m.id === row.id)) list.push(row);
        found.set(row.sessionId, list);
      }
    }
  }
  for (const list of found.values()) list.sort((a, b) => a.offsetMs - b.offsetMs);
  return found;
}
