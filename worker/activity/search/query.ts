/**
 * Search text as an FTS5 MATCH expression on `activity_search` (migrations 0006 and 0008): the text's words and
 * tokens as quoted phrases, compound words through the compound list, the last word as a prefix (expanded
 * through the term list when its words are few), and the columns each group of words must match in.
 */
import type { SearchIn } from '../../../protocol/activity.ts';

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
/**
 * Stands for the expanded last word in a MATCH template (keys.ts replaces it: `char(1)`); control characters
 * never reach a query.
 */
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

/** The words of search text (at most 16), without control characters. */
export function wordsOf(text: string): string[] {
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
