/**
 * Search across sessions (`GET /api/v1/sessions?q=`): one pass over the match keys, newest session first, finds
 * the sessions of a page with a few matches each and stops; the next page resumes below the last session
 * shown (docs/activity.md).
 */
import { REDACTED, type SearchIn } from '../../../protocol/activity.ts';
import { KEY_BITS, NO_BOUND, nextRead, readKeys, seqOf } from './keys.ts';
import { categoryColumns, searchExpression, wordsOf } from './query.ts';
import { snippets } from './snippets.ts';

export interface ActivityMatch {
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
  snippet: string;
}

export interface SessionSearchOptions {
  perSession: number;
  maxSessions: number;
  /** Which of these sessions the caller may list (its filters and permissions). */
  accept: (sessionIds: string[]) => Promise<Set<string>>;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface SessionSearchPage {
  /** Newest session first, each with up to `perSession` of its newest matches in time order. */
  sessions: Map<string, ActivityMatch[]>;
  /** Where the next page starts; null on the last page. */
  nextCursor: string | null;
}

interface MatchRow {
  key: number;
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
  text: string | null;
  app: string | null;
  title: string | null;
  name: string | null;
  path: string | null;
  redacted: number;
}

/** The events behind a JSON array of search keys, with their sessions. */
const MATCHES_SQL = `
  SELECT j.value AS key, s.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs,
         a.text AS text, a.app AS app, a.title AS title, a.name AS name, a.path AS path, a.redacted AS redacted
    FROM json_each(?1) j
    JOIN activity_search_keys k ON k.key = j.value
    JOIN activity a ON a.id = k.activity_id
    JOIN activity_search_sessions s ON s.seq = j.value >> ${KEY_BITS}`;

interface Group {
  seq: number;
  keys: number[];
}

/**
 * A page of sessions whose activity matches, newest session (by first event) first, each with up to
 * `perSession` of its newest matches. Pages through every matching session: `nextCursor` resumes below the
 * page's last session.
 *
 * Per database: read match keys newest first in growing steps, group them by session (a session's keys are
 * adjacent) keeping its first `perSession`, and once enough sessions are complete, fetch their events and
 * ask `accept` which may be listed; read on while filters turn sessions away.
 */
export async function searchSessions(
  databases: readonly D1Database[],
  text: string,
  within: readonly SearchIn[],
  options: SessionSearchOptions,
): Promise<SessionSearchPage> {
  const empty: SessionSearchPage = { sessions: new Map(), nextCursor: null };
  if (wordsOf(text).length === 0 || within.length === 0) return empty;
  const columns = categoryColumns(text, within);
  const words = wordsOf(text).map((w) => w.toLowerCase());
  const cursor = options.cursor ? parseCursor(options.cursor) : null;
  let start = 0;
  if (cursor && databases.length > 1) {
    // The partition holding the cursor's session; pages before it are done.
    start = -1;
    for (const [i, db] of databases.entries()) {
      const row = await db
        .prepare('SELECT 1 AS found FROM activity_search_sessions WHERE seq = ?1 AND session_id = ?2')
        .bind(cursor.seq, cursor.sessionId)
        .first();
      if (row) {
        start = i;
        break;
      }
    }
    if (start < 0) return empty;
  }
  // One more session than shown: whether there is a next page.
  const want = options.maxSessions + 1;
  const page: Array<{ seq: number; sessionId: string; rows: MatchRow[] }> = [];
  const seen = new Set<string>();
  for (const [i, db] of databases.entries()) {
    if (i < start) continue;
    // Each partition has its own word lists.
    const expression = await searchExpression(db, text, columns);
    if (!expression) continue;
    let bound = cursor && i === start ? cursor.seq * 2 ** KEY_BITS : NO_BOUND;
    const firstRead = want * options.perSession;
    let read = firstRead;
    let keysRead = 0;
    let sessionsRead = 0;
    /** Sessions read and not yet fetched; the last may continue in the next read. */
    const pending: Group[] = [];
    let exhausted = false;
    /** Sessions to fetch at a time: a page's worth, doubled while filters turn sessions away. */
    let batch = want;
    while (page.length < want && !(exhausted && pending.length === 0)) {
      if (!exhausted) {
        const keys = await readKeys(db, expression, bound, read);
        const before = sessionsRead;
        for (const key of keys) {
          const seq = seqOf(key);
          const last = pending[pending.length - 1];
          if (last?.seq === seq) {
            if (last.keys.length < options.perSession) last.keys.push(key);
          } else {
            pending.push({ seq, keys: [key] });
            sessionsRead++;
          }
        }
        exhausted = keys.length < read;
        bound = keys[keys.length - 1] ?? bound;
        keysRead += keys.length;
        read = nextRead(
          firstRead,
          read,
          sessionsRead > before + 1,
          keysRead,
          sessionsRead,
          batch - Math.max(0, pending.length - 1),
        );
      }
      // Sessions known whole: every one read, unless more of the last may follow.
      const complete = exhausted ? pending.length : pending.length - 1;
      if (complete < batch && !exhausted) continue;
      const groups = pending.splice(0, Math.min(complete, batch));
      if (groups.length === 0) continue;
      const rows = await matchRows(db, groups);
      const ids = [...new Set(groups.map((g) => rows.get(g.seq)?.[0]?.sessionId).filter((id) => id !== undefined))];
      const unseen = ids.filter((id) => !seen.has(id));
      const accepted = unseen.length ? await options.accept(unseen) : new Set<string>();
      for (const group of groups) {
        const found = rows.get(group.seq) ?? [];
        const sessionId = found[0]?.sessionId;
        if (page.length >= want || sessionId === undefined || seen.has(sessionId)) continue;
        seen.add(sessionId);
        if (accepted.has(sessionId)) page.push({ seq: group.seq, sessionId, rows: found });
      }
      batch = Math.min(batch * 2, 1000);
    }
    if (page.length >= want) break;
  }
  const shown = page.slice(0, options.maxSessions);
  const last = shown[shown.length - 1];
  const snippet = snippets(words);
  const sessions = new Map<string, ActivityMatch[]>();
  for (const group of shown) {
    sessions.set(
      group.sessionId,
      group.rows
        .map((row) => ({
          sessionId: row.sessionId,
          id: row.id,
          type: row.type,
          offsetMs: row.offsetMs,
          // A redacted run's text is never shown, whatever a launcher sent.
          snippet: snippet([row.redacted ? REDACTED : row.text, row.title, row.app, row.name, row.path]),
        }))
        .sort((a, b) => a.offsetMs - b.offsetMs || a.id - b.id),
    );
  }
  return { sessions, nextCursor: page.length > shown.length && last ? `${last.seq}~${last.sessionId}` : null };
}

/** The events of these sessions' kept keys, by session `seq`. */
async function matchRows(db: D1Database, groups: readonly Group[]): Promise<Map<number, MatchRow[]>> {
  const { results } = await db
    .prepare(MATCHES_SQL)
    .bind(JSON.stringify(groups.flatMap((g) => g.keys)))
    .all<MatchRow>();
  const bySeq = new Map<number, MatchRow[]>();
  for (const row of results) {
    const seq = seqOf(row.key);
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), row]);
  }
  return bySeq;
}

/** A cursor is `seq~sessionId` (the route checks its shape). */
function parseCursor(cursor: string): { seq: number; sessionId: string } | null {
  const [seq, sessionId] = cursor.split('~');
  const n = Number(seq);
  return Number.isSafeInteger(n) && n > 0 && sessionId ? { seq: n, sessionId } : null;
}
