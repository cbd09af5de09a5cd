/**
 * Full-text search over activity (FTS5). User text never reaches FTS5's query syntax: every word becomes a
 * quoted phrase (the last one a prefix when it is long enough to be cheap), so `a OR b`, `"`, `*` or `NEAR(`
 * are searched for, not obeyed.
 *
 * Cross-session search reads `activity_search` (migration 0006), whose rowids are search keys
 * `seq × 2^24 + n` (a session's `seq`, its `n`th event): a session's matches are adjacent, newest session
 * first when read in descending order, so one pass finds the sessions of a page with a few matches each and
 * stops, and the next page resumes below the last session shown (docs/activity.md).
 */
import { REDACTED, type SearchIn } from '../../protocol/activity.ts';

/**
 * `activity_search` columns of each category. Typed text, SSH input and command lines have columns of their
 * own, so a category is a column filter and no event type needs checking (apps, titles, names and paths are
 * only ever set on the types their category covers: protocol/activity.ts SEARCH_IN).
 */
const SEARCH_COLUMNS: Record<SearchIn, readonly string[]> = {
  keystrokes: ['typed'],
  ssh: ['ssh'],
  apps: ['app'],
  processes: ['name', 'path', 'command'],
  windows: ['title'],
};

/** Search keys per `seq`: 2^24 events; beyond that a session continues under a new `seq` (migration 0006). */
const KEY_BITS = 24;
export const SEARCH_KEYS_PER_SEQ = 2 ** KEY_BITS;
/** The highest search key bound (keys stay below 2^53, exact as JavaScript numbers). */
const NO_BOUND = 2 ** 53;

/** A last word shorter than this is matched whole: a one- or two-letter prefix matches half the index. */
const MIN_PREFIX = 3;
/**
 * A prefix is looked up in `activity_search_terms` and searched as the words it stands for when they are at
 * most this many: FTS5 reads those words' lists lazily and stops with the page, while a `prefix*` query
 * first merges every matching word's whole list (measured: "stat"* over 1M events, 10 ms before any row).
 */
const MAX_EXPANSION = 32;
/** The same for the last token of a phrase (measured: 32 made `/var/lib/postgresql/backup.sh` take 16 ms). */
const MAX_PHRASE_EXPANSION = 4;
/** Stands for the expanded last word in a MATCH template; control characters never reach a query. */
const EXPANSION = '\u0001';

function wordsOf(text: string): string[] {
  return text
    .split(/\s+/)
    .map((w) => w.replace(/\p{Cc}/gu, ''))
    .filter(Boolean)
    .slice(0, 16);
}

function phrase(word: string): string {
  return `"${word.replaceAll('"', '""')}"`;
}

/** An FTS5 MATCH expression for `text` restricted to `columns`; null when the text has no words. */
export function ftsQuery(text: string, columns: readonly string[] | null = null): string | null {
  const words = wordsOf(text);
  if (words.length === 0) return null;
  const terms = words
    .map((w, i) => `${phrase(w)}${i === words.length - 1 && [...w].length >= MIN_PREFIX ? '*' : ''}`)
    .join(' ');
  return columns ? `{${columns.join(' ')}} : (${terms})` : terms;
}

/**
 * How `text` is searched in `activity_search` within `categories`: `match`, the plain MATCH expression; and,
 * when the last word is a prefix ending in ASCII letters or digits after a separator (so its last token is
 * exactly those characters, lower-cased, whatever the tokenizer), `template`, the same expression with the
 * last word's phrase replaced by EXPANSION, `head` (what precedes the last token, quoted for a phrase) and
 * the token's range of terms [`from`, `to`).
 */
export function searchExpression(
  text: string,
  categories: readonly SearchIn[],
): { match: string; template: string | null; head: string; from: string; to: string; most: number } | null {
  const words = wordsOf(text);
  if (words.length === 0 || categories.length === 0) return null;
  const last = words[words.length - 1] as string;
  const prefix = [...last].length >= MIN_PREFIX;
  const body = (lastPhrase: string) =>
    [...words.slice(0, -1).map(phrase), lastPhrase].join(words.length > 1 ? ' AND ' : '');
  // One word may match in any of the categories' columns; several words must all match in one category.
  const groups =
    words.length === 1
      ? [[...new Set(categories.flatMap((c) => SEARCH_COLUMNS[c]))]]
      : [...new Map(categories.map((c) => [SEARCH_COLUMNS[c].join(' '), SEARCH_COLUMNS[c]])).values()];
  const expression = (lastPhrase: string) =>
    groups.map((columns) => `{${columns.join(' ')}} : (${body(lastPhrase)})`).join(' OR ');
  const match = expression(`${phrase(last)}${prefix ? '*' : ''}`);
  const token = prefix ? /(?:^|[!-/:-@[-`{-~])([A-Za-z0-9]+)$/.exec(last) : null;
  if (!token) return { match, template: null, head: '', from: '', to: '', most: 0 };
  const from = (token[1] as string).toLowerCase();
  const to = from.slice(0, -1) + String.fromCharCode(from.charCodeAt(from.length - 1) + 1);
  const head = last.slice(0, last.length - from.length).replaceAll('"', '""');
  // In a phrase (`app-uat-07`) every expanded word repeats the whole phrase's work: expand only a few.
  const most = /[^!-/:-@[-`{-~]/.test(head) ? MAX_PHRASE_EXPANSION : MAX_EXPANSION;
  return { match, template: expression(EXPANSION), head, from, to, most };
}

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

interface KeyRow {
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

/**
 * The newest matches of each session, sessions newest first, below search key `?2`, at most `?3` rows: one
 * descending pass over the index where a match is kept if the match `perSession` rows before it belongs to
 * another session (so each session keeps its newest `perSession`), stopping at the limit. The MATCH expression
 * is `?1`, or, when `?4` is a template, `?4` with its last word expanded into the terms in [`?6`, `?7`)
 * (each as a phrase after `?5`) if there are 1…`?8` of them.
 */
function pageSql(perSession: number): string {
  if (!Number.isInteger(perSession) || perSession < 1 || perSession > 100) throw new Error('bad perSession');
  return `
    SELECT m.key AS key, s.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs,
           a.text AS text, a.app AS app, a.title AS title, a.name AS name, a.path AS path,
           a.redacted AS redacted
      FROM (SELECT key FROM (
              SELECT rowid AS key, lag(rowid >> ${KEY_BITS}, ${perSession}) OVER (ORDER BY rowid DESC) AS back
                FROM activity_search
               WHERE activity_search MATCH (
                       CASE WHEN ?4 IS NULL THEN ?1 ELSE coalesce((
                         SELECT CASE WHEN count(*) BETWEEN 1 AND ?8
                                THEN replace(?4, char(1), '(' || group_concat('"' || ?5 || replace(term, '"', '""') || '"', ' OR ') || ')')
                                END
                           FROM (SELECT term FROM activity_search_terms
                                  WHERE term >= ?6 AND term < ?7 ORDER BY term LIMIT ?8 + 1)), ?1) END)
                 AND rowid < ?2
               ORDER BY rowid DESC)
             WHERE back IS NULL OR back <> key >> ${KEY_BITS}
             LIMIT ?3) AS m
      JOIN activity_search_keys k ON k.key = m.key
      JOIN activity a ON a.id = k.activity_id
      JOIN activity_search_sessions s ON s.seq = m.key >> ${KEY_BITS}`;
}

function seqOf(key: number): number {
  return Math.floor(key / 2 ** KEY_BITS);
}

/**
 * A page of sessions whose activity matches, newest session (by first event) first, each with up to
 * `perSession` of its newest matches. Pages through every matching session: `nextCursor` resumes below the
 * page's last session.
 */
export async function searchSessions(
  databases: readonly D1Database[],
  text: string,
  within: readonly SearchIn[],
  options: SessionSearchOptions,
): Promise<SessionSearchPage> {
  const expression = searchExpression(text, within);
  const empty: SessionSearchPage = { sessions: new Map(), nextCursor: null };
  if (!expression) return empty;
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
  const want = options.maxSessions + 1;
  const page: Array<{ seq: number; sessionId: string; rows: KeyRow[] }> = [];
  const seen = new Set<string>();
  for (const [i, db] of databases.entries()) {
    if (i < start) continue;
    let bound = cursor && i === start ? cursor.seq * 2 ** KEY_BITS : NO_BOUND;
    let sessionsToRead = want;
    while (page.length < want) {
      // One more session than needed: the last one read may be cut short by the row limit.
      const limit = (sessionsToRead + 1) * options.perSession;
      const { results } = await db
        .prepare(pageSql(options.perSession))
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
        .all<KeyRow>();
      results.sort((a, b) => b.key - a.key);
      const groups: Array<{ seq: number; sessionId: string; rows: KeyRow[] }> = [];
      for (const row of results) {
        const seq = seqOf(row.key);
        const group = groups[groups.length - 1];
        if (group?.seq === seq) group.rows.push(row);
        else groups.push({ seq, sessionId: row.sessionId, rows: [row] });
      }
      const exhausted = results.length < limit;
      if (!exhausted) groups.pop();
      const unseen = [...new Set(groups.map((g) => g.sessionId))].filter((id) => !seen.has(id));
      const accepted = unseen.length ? await options.accept(unseen) : new Set<string>();
      for (const group of groups) {
        if (page.length >= want) break;
        if (seen.has(group.sessionId)) continue;
        seen.add(group.sessionId);
        if (accepted.has(group.sessionId)) page.push(group);
      }
      const lastGroup = groups[groups.length - 1];
      if (exhausted || !lastGroup) break;
      bound = lastGroup.seq * 2 ** KEY_BITS;
      // Filters turned sessions away: read further in bigger steps.
      sessionsToRead = Math.min(sessionsToRead * 2, 1000);
    }
    if (page.length >= want) break;
  }
  const shown = page.slice(0, options.maxSessions);
  const snippet = snippets(words);
  const last = shown[shown.length - 1];
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

/** A cursor is `seq~sessionId` (the route checks its shape). */
function parseCursor(cursor: string): { seq: number; sessionId: string } | null {
  const [seq, sessionId] = cursor.split('~');
  const n = Number(seq);
  return Number.isSafeInteger(n) && n > 0 && sessionId ? { seq: n, sessionId } : null;
}

/**
 * Run after every stored batch, in its transaction: the terms of the events just indexed join
 * `activity_search_terms` (listed by FTS5 itself from `activity_search_fresh`, which holds only them), and
 * `activity_search_fresh` is emptied.
 */
export const FLUSH_SEARCH_TERMS = [
  'INSERT OR IGNORE INTO activity_search_terms (term) SELECT term FROM activity_search_fresh_terms',
  "INSERT INTO activity_search_fresh (activity_search_fresh) VALUES ('delete-all')",
] as const;

const CONTEXT = 40;

/**
 * Snippets for one search: the first field mentioning a word, cut around the earliest mention, with every
 * mention bracketed. One expression for all words (longest first), compiled once per search, not per row.
 */
export function snippets(words: readonly string[]): (fields: ReadonlyArray<string | null>) => string {
  const alternatives = [...new Set(words)]
    .filter(Boolean)
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const mention = alternatives.length ? new RegExp(alternatives.join('|'), 'gi') : null;
  return (fields) => {
    for (const field of fields) {
      if (!field || !mention) continue;
      mention.lastIndex = 0;
      const first = mention.exec(field);
      if (!first) continue;
      const start = Math.max(0, first.index - CONTEXT);
      const end = Math.min(field.length, first.index + CONTEXT * 2);
      const cut = field.slice(start, end).replace(mention, (m) => `[${m}]`);
      return `${start > 0 ? '…' : ''}${cut}${end < field.length ? '…' : ''}`;
    }
    return (fields.find(Boolean) ?? '').slice(0, CONTEXT * 3);
  };
}
