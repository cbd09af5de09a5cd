/**
 * Full-text search over activity (FTS5): across sessions (searchSessions) and inside one
 * (routes/activity.ts), both on `activity_search` (migrations 0006 and 0008), whose rowids are search keys
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

/**
 * Characters that join the parts of a compound word (`app-qa-08`, `/opt/app/syslog.conf`, `ben.schulz`,
 * `C:\\Windows\\cmd.exe`): `activity_search` indexes such words whole as well as by their parts (its
 * `tokenchars`, migration 0008).
 */
const JOINER = /[-._/\\]/;
const JOINERS = /[-._/\\]/g;
/** FTS5 unicode61's token characters (letters, digits, private use) and the joiners. */
const TOKEN = /[\p{L}\p{N}\p{Co}\-._/\\]+/gu;
/**
 * A compound spelling is searched as the compound words that contain it when they are at most this many (more
 * and it is searched as the phrase of its parts); found through a trigram index, so at least 3 characters.
 */
const MAX_COMPOUNDS = 32;
const COMPOUND_CANDIDATES = 256;

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

/** A word's tokens as `activity_search`'s tokenizer splits it, lower-cased. */
function tokensOf(word: string): string[] {
  return word.toLowerCase().match(TOKEN) ?? [];
}

/** A compound token searched through the compound list (ASCII and long enough for trigrams). */
function isLookup(token: string): boolean {
  return JOINER.test(token) && token.length >= 3 && /^[\x21-\x7e]+$/.test(token);
}

/** Whether compound `term` holds `spelling` starting at a part boundary (and ending at one, if `whole`). */
export function holdsSpelling(term: string, spelling: string, whole: boolean): boolean {
  for (let i = term.indexOf(spelling); i >= 0; i = term.indexOf(spelling, i + 1)) {
    const end = i + spelling.length;
    const starts = i === 0 || JOINER.test(spelling[0] as string) || JOINER.test(term[i - 1] as string);
    const ends =
      !whole ||
      end === term.length ||
      JOINER.test(spelling[spelling.length - 1] as string) ||
      JOINER.test(term[end] as string);
    if (starts && ends) return true;
  }
  return false;
}

/**
 * The compound words of `db`'s index that hold each spelling (whole, unless it ends the query: then as a
 * prefix too), in one round trip; `null` for a spelling with too many to list.
 */
async function compoundsHolding(
  db: D1Database,
  spellings: ReadonlyArray<{ spelling: string; whole: boolean }>,
): Promise<Array<string[] | null>> {
  if (spellings.length === 0) return [];
  const statement = db.prepare(
    `SELECT c.term AS term FROM activity_search_compound_grams g JOIN activity_search_compounds c ON c.id = g.rowid
      WHERE activity_search_compound_grams MATCH ?1 LIMIT ${COMPOUND_CANDIDATES + 1}`,
  );
  const replies = await db.batch<{ term: string }>(spellings.map(({ spelling }) => statement.bind(phrase(spelling))));
  return replies.map(({ results }, i) => {
    const { spelling, whole } = spellings[i] as { spelling: string; whole: boolean };
    if (results.length > COMPOUND_CANDIDATES) return null;
    const terms = results.map((r) => r.term).filter((term) => holdsSpelling(term, spelling, whole));
    return terms.length > MAX_COMPOUNDS ? null : terms;
  });
}

/** `activity_search` columns grouped as a search needs them: each group must hold every word. */
export type ColumnGroups = ReadonlyArray<readonly string[]>;

/** Every searched column in one group: all words anywhere in an event (search inside one session). */
export const ANY_COLUMN: ColumnGroups = [[...new Set(Object.values(SEARCH_COLUMNS).flat())]];

/** One word may match in any of the categories' columns; several words must all match in one category. */
export function categoryColumns(text: string, categories: readonly SearchIn[]): ColumnGroups {
  return wordsOf(text).length <= 1
    ? [[...new Set(categories.flatMap((c) => SEARCH_COLUMNS[c]))]]
    : [...new Map(categories.map((c) => [SEARCH_COLUMNS[c].join(' '), SEARCH_COLUMNS[c]])).values()];
}

export interface SearchExpression {
  /** The MATCH expression. */
  match: string;
  /** `match` with the last word's phrase as EXPANSION, when that word's last token can be expanded. */
  template: string | null;
  /** What precedes the last token in its phrase, quoted for a phrase. */
  head: string;
  /** The last token's range of terms [`from`, `to`) and how many may stand for it. */
  from: string;
  to: string;
  most: number;
}

/**
 * How `text` is searched in `db`'s `activity_search` within column `groups`; null when nothing can match
 * (no words, or a compound spelling no event holds). User text never reaches FTS5's query syntax: every word
 * becomes quoted phrases, so `a OR b`, `"`, `*` or `NEAR(` are searched for, not obeyed.
 *
 * A word without joiners is a phrase, as FTS5 splits it (`<Enter>` → `enter`). A word with a compound token
 * (`app-qa-08`, `deploy@web-3` → `deploy` and `web-3`) needs each of its tokens in the event: plain ones as
 * words, a compound one as any compound word holding that spelling at part boundaries (`qa-08` is in
 * `app-qa-08.corp`, not in `aqa-080`). The last word of the query is a prefix (3 characters or more): its
 * last plain token also matches longer words; its compound spelling need not end at a boundary.
 */
export async function searchExpression(
  db: D1Database,
  text: string,
  groups: ColumnGroups,
): Promise<SearchExpression | null> {
  const words = wordsOf(text);
  if (words.length === 0 || groups.length === 0) return null;
  const tokens = words.map(tokensOf);
  const lookups = tokens.flatMap((ts, w) =>
    ts.filter(isLookup).map((spelling) => ({
      spelling,
      whole: !(w === words.length - 1 && spelling === ts[ts.length - 1]),
    })),
  );
  const unique = [...new Map(lookups.map((l) => [`${l.whole}:${l.spelling}`, l])).values()];
  const held = new Map(
    (await compoundsHolding(db, unique)).map((terms, i) => [`${unique[i]?.whole}:${unique[i]?.spelling}`, terms]),
  );
  let template: Omit<SearchExpression, 'match' | 'template'> & { word: string | null } = {
    word: null,
    head: '',
    from: '',
    to: '',
    most: 0,
  };
  const bodies: string[] = [];
  for (const [w, word] of words.entries()) {
    const last = w === words.length - 1;
    const ts = tokens[w] as string[];
    if (ts.length === 0) continue;
    if (!ts.some((t) => JOINER.test(t))) {
      // As FTS5 splits it; the last word a prefix.
      const prefix = last && [...word].length >= MIN_PREFIX;
      bodies.push(`${phrase(word)}${prefix ? '*' : ''}`);
      const token = prefix ? /(?:^|[!-/:-@[-`{-~])([A-Za-z0-9]+)$/.exec(word) : null;
      if (token) {
        const head = word.slice(0, word.length - (token[1] as string).length);
        // In a phrase (`foo,bar`) every expanded word repeats the whole phrase's work: expand only a few.
        template = { word: bodies[bodies.length - 1] as string, ...termRange(token[1] as string, head) };
      }
      continue;
    }
    const parts: string[] = [];
    for (const [i, token] of ts.entries()) {
      const prefix = last && i === ts.length - 1;
      if (!JOINER.test(token)) {
        const expand = prefix && token.length >= MIN_PREFIX;
        parts.push(`${phrase(token)}${expand ? '*' : ''}`);
        if (expand && /^[a-z0-9]+$/.test(token)) {
          template = { word: parts[parts.length - 1] as string, ...termRange(token, '') };
        }
        continue;
      }
      const terms = isLookup(token) ? held.get(`${!prefix}:${token}`) : null;
      if (terms && terms.length === 0) return null;
      if (terms) {
        parts.push(`(${terms.map(phrase).join(' OR ')})`);
        continue;
      }
      // Too short or too common to list: the phrase of its parts (matches any joiners between them).
      const spelledOut = token.replace(JOINERS, ' ').trim();
      if (spelledOut) parts.push(`${phrase(spelledOut)}${prefix && spelledOut.length >= MIN_PREFIX ? '*' : ''}`);
    }
    if (parts.length) bodies.push(parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`);
  }
  if (bodies.length === 0) return null;
  const expression = (body: string) => groups.map((columns) => `{${columns.join(' ')}} : (${body})`).join(' OR ');
  const body = bodies.join(' AND ');
  const match = expression(body);
  if (template.word === null) return { match, template: null, head: '', from: '', to: '', most: 0 };
  const { word, ...range } = template;
  // The expanded token is the last one written: replace its last occurrence.
  const at = body.lastIndexOf(word);
  return { match, template: expression(body.slice(0, at) + EXPANSION + body.slice(at + word.length)), ...range };
}

function termRange(token: string, head: string): { head: string; from: string; to: string; most: number } {
  const from = token.toLowerCase();
  const to = from.slice(0, -1) + String.fromCharCode(from.charCodeAt(from.length - 1) + 1);
  const most = /[^!-/:-@[-`{-~]/.test(head) ? MAX_PHRASE_EXPANSION : MAX_EXPANSION;
  return { head: head.replaceAll('"', '""'), from, to, most };
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

/** The events behind a JSON array of search keys, with their sessions. */
const MATCHES_SQL = `
  SELECT j.value AS key, s.session_id AS sessionId, a.id AS id, a.type AS type, a.at_ms AS offsetMs,
         a.text AS text, a.app AS app, a.title AS title, a.name AS name, a.path AS path, a.redacted AS redacted
    FROM json_each(?1) j
    JOIN activity_search_keys k ON k.key = j.value
    JOIN activity a ON a.id = k.activity_id
    JOIN activity_search_sessions s ON s.seq = j.value >> ${KEY_BITS}`;

/**
 * Keys the next read asks for. First a page's worth of keys (enough when sessions have few matches each; an
 * expensive phrase then reads no further than it must); then what the sessions still needed should hold at
 * the matches per session seen so far (a common word: one more read), never less than the first read, and
 * twice the last read when that one did not even finish a session.
 */
const MAX_READ = 65_536;
function nextRead(
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

function seqOf(key: number): number {
  return Math.floor(key / 2 ** KEY_BITS);
}

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

/** Up to `limit` match keys below `bound`, newest first. */
async function readKeys(db: D1Database, expression: SearchExpression, bound: number, limit: number): Promise<number[]> {
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

/**
 * Run after every stored batch, in its transaction: the terms of the events just indexed (listed by FTS5 itself
 * from `activity_search_fresh`, which holds only them) join `activity_search_terms` (plain words) or
 * `activity_search_compounds` (words with joiners, whose trigger adds them to the trigram index), and
 * `activity_search_fresh` is emptied.
 */
export const FLUSH_SEARCH_TERMS = [
  "INSERT OR IGNORE INTO activity_search_terms (term) SELECT term FROM activity_search_fresh_terms WHERE term NOT GLOB '*[-._/\\]*'",
  "INSERT OR IGNORE INTO activity_search_compounds (term) SELECT term FROM activity_search_fresh_terms WHERE term GLOB '*[-._/\\]*'",
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
