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
 * Matches read per category, newest first. Reading further finds more sessions for common
 * words but costs time linearly (measured: 10,000 rows took p95 from ~40 ms to ~630 ms over 1M events); a
 * common word therefore finds the sessions of its newest thousand matches (docs/activity.md).
 */
const MATCHES_READ = 1000;

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
 * yes) with up to `perSession` matches each. Reads each category's newest matches without snippets, and makes
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
    {
      // One round trip for every category: each reads its newest matches. (No `rowid < x` paging here: that
      // constraint makes FTS5 sort every match instead of walking the index newest-first — measured 6× slower.)
      const results = await db.batch<MatchRow>(
        queries.map(({ match, types }) =>
          db
            .prepare(
              `SELECT a.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs
                 FROM activity_fts JOIN activity a ON a.id = activity_fts.rowid
                WHERE activity_fts MATCH ?1 AND a.type IN (${types.map((_, i) => `?${i + 2}`).join(', ')})
                ORDER BY activity_fts.rowid DESC LIMIT ${MATCHES_READ}`,
            )
            .bind(match, ...types),
        ),
      );
      const rows = [...new Map(results.flatMap((r) => r.results).map((row) => [row.id, row])).values()].sort(
        (a, b) => b.id - a.id,
      );
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
    }
  }
  return withSnippets(databases, text, found);
}

/**
 * Adds a snippet to each match that will be shown: the matched words in `[` `]` with some context, cut from
 * the event's own text. (FTS5's snippet() with `rowid IN (…)` evaluates the whole MATCH first — for a common
 * word, every match in the index.)
 */
async function withSnippets(
  databases: readonly D1Database[],
  text: string,
  found: Map<string, MatchRow[]>,
): Promise<Map<string, ActivityMatch[]>> {
  const words = text
    .split(/\s+/)
    .map((w) => w.replace(/\p{Cc}/gu, '').toLowerCase())
    .filter(Boolean);
  const ids = [...found.values()].flat().map((m) => m.id);
  const snippets = new Map<number, string>();
  for (const db of databases) {
    for (let i = 0; i < ids.length; i += 90) {
      const chunk = ids.slice(i, i + 90);
      const { results } = await db
        .prepare(
          `SELECT id, text, app, title, name, path FROM activity WHERE id IN (${chunk.map((_, j) => `?${j + 1}`).join(', ')})`,
        )
        .bind(...chunk)
        .all<{ id: number } & Record<'text' | 'app' | 'title' | 'name' | 'path', string | null>>();
      for (const row of results)
        snippets.set(row.id, snippet([row.text, row.title, row.app, row.name, row.path], words));
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

const CONTEXT = 40;

/** The first field mentioning a word, cut around it, with every word's occurrences bracketed. */
export function snippet(fields: ReadonlyArray<string | null>, words: readonly string[]): string {
  for (const field of fields) {
    if (!field) continue;
    const lower = field.toLowerCase();
    const at = Math.min(...words.map((w) => lower.indexOf(w)).filter((i) => i >= 0));
    if (!Number.isFinite(at)) continue;
    const start = Math.max(0, at - CONTEXT);
    const end = Math.min(field.length, at + CONTEXT * 2);
    let cut = field.slice(start, end);
    for (const word of words) {
      cut = cut.replace(new RegExp(word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), (m) => `[${m}]`);
    }
    return `${start > 0 ? '…' : ''}${cut}${end < field.length ? '…' : ''}`;
  }
  return (fields.find(Boolean) ?? '').slice(0, CONTEXT * 3);
}
