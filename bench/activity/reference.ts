/**
 * The search's rules restated for the benchmark's recall check, independently of the server's code
 * (worker/activity/search/) and index: candidates from the benchmark's own FTS5 index (`bench_reference`,
 * plain words only), then every rule of docs/activity.md "Search" applied to the candidates' text in
 * JavaScript. Untimed.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { SearchIn } from '../../protocol/activity.ts';

/** The columns and event types of each category, as the server's `activity_search` columns hold them. */
const CATEGORIES: Record<string, { columns: readonly string[]; types: readonly string[] }> = {
  keystrokes: { columns: ['text'], types: ['keys'] },
  processes: { columns: ['name', 'path', 'text'], types: ['process.start', 'process.stop'] },
  windows: { columns: ['title'], types: ['window.focus', 'keys'] },
};

/** Query choice: the phrase query of the first reference (words as phrases, the last a prefix). */
export function referencePhrase(text: string, columns: readonly string[] | null = null): string | null {
  const words = text.split(/\s+/).filter(Boolean).slice(0, 16);
  if (words.length === 0) return null;
  const terms = words
    .map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 && [...w].length >= 3 ? '*' : ''}`)
    .join(' ');
  return columns ? `{${columns.join(' ')}} : (${terms})` : terms;
}

const isJoiner = (c: string | undefined) => c !== undefined && '-._/\\'.includes(c);
const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
/** Words as the tokenizer without joiners sees them (parts), and with them (compounds kept whole). */
const partsOf = (s: string) => fold(s).match(/[\p{L}\p{N}\p{Co}]+/gu) ?? [];
const tokensOf = (s: string) => fold(s).match(/[\p{L}\p{N}\p{Co}\-._/\\]+/gu) ?? [];

function holds(term: string, spelling: string, whole: boolean): boolean {
  for (let i = term.indexOf(spelling); i >= 0; i = term.indexOf(spelling, i + 1)) {
    const end = i + spelling.length;
    const starts = i === 0 || isJoiner(spelling[0]) || isJoiner(term[i - 1]);
    const ends = !whole || end === term.length || isJoiner(spelling[spelling.length - 1]) || isJoiner(term[end]);
    if (starts && ends) return true;
  }
  return false;
}

/** Consecutive `words` in `tokens`, the last one a prefix if asked. */
function hasPhrase(tokens: readonly string[], words: readonly string[], prefix: boolean): boolean {
  if (words.length === 0) return false;
  for (let i = 0; i + words.length <= tokens.length; i++) {
    if (
      words.every((w, j) => {
        const t = tokens[i + j] as string;
        return prefix && j === words.length - 1 ? t.startsWith(w) : t === w;
      })
    )
      return true;
  }
  return false;
}

/** Does one word hold in these column texts (a phrase within one column; several tokens anywhere)? */
type Test = (columns: ReadonlyArray<string | null>) => boolean;

function wordTest(db: DatabaseSync, word: string, last: boolean): Test {
  const tokens = tokensOf(word);
  const phraseIn =
    (words: string[], prefix: boolean): Test =>
    (columns) =>
      columns.some((c) => c !== null && hasPhrase(partsOf(c), words, prefix));
  if (!tokens.some((t) => [...t].some(isJoiner))) return phraseIn(partsOf(word), last && [...word].length >= 3);
  const tests = tokens.map((token, i): Test => {
    const prefix = last && i === tokens.length - 1;
    if (![...token].some(isJoiner)) return phraseIn([token], prefix && token.length >= 3);
    const parts = partsOf(token);
    const spelledOut = phraseIn(parts, prefix && parts.join(' ').length >= 3);
    if (token.length < 3 || !/^[\x21-\x7e]+$/.test(token)) return parts.length ? spelledOut : () => true;
    // As many compound words hold it as the server lists at most (search/query.ts): else the parts' phrase.
    const candidates = db
      .prepare(`SELECT term FROM activity_search_compounds WHERE instr(term, ?) > 0 LIMIT 257`)
      .all(token) as Array<{ term: string }>;
    const held = candidates.filter((c) => holds(c.term, token, !prefix));
    if (candidates.length > 256 || held.length > 32) return spelledOut;
    return (columns) =>
      columns.some((c) => c !== null && tokensOf(c).some((t) => [...t].some(isJoiner) && holds(t, token, !prefix)));
  });
  return (columns) => tests.every((t) => t(columns));
}

/**
 * Sessions with an event matching `text` in one of the categories (every word in the category's columns of
 * one event of its types): what paging through a search must list.
 */
export function referenceSessions(db: DatabaseSync, text: string, within: readonly SearchIn[]): number {
  const words = text.split(/\s+/).filter(Boolean).slice(0, 16);
  const parts = words.flatMap(partsOf);
  if (parts.length === 0) return 0;
  const tests = words.map((w, i) => wordTest(db, w, i === words.length - 1));
  const ids = new Set<string>();
  for (const category of within) {
    const { columns, types } = CATEGORIES[category] as { columns: readonly string[]; types: readonly string[] };
    // A superset: every part of every word as a whole word, the last as a prefix (what any rule needs).
    const candidates = `{${columns.join(' ')}} : (${parts.map((p, i) => `"${p}"${i === parts.length - 1 ? '*' : ''}`).join(' AND ')})`;
    const rows = db
      .prepare(
        `SELECT a.session_id AS id, ${columns.map((c) => `CASE WHEN a.redacted AND '${c}' = 'text' THEN '<redacted>' ELSE a.${c} END AS ${c}`).join(', ')}
           FROM bench_reference JOIN activity a ON a.id = bench_reference.rowid
          WHERE bench_reference MATCH ? AND a.type IN (${types.map(() => '?').join(', ')})`,
      )
      .all(candidates, ...types) as Array<Record<string, string | null>>;
    for (const row of rows) {
      const texts = columns.map((c) => row[c] ?? null);
      if (tests.every((t) => t(texts))) ids.add(row.id as string);
    }
  }
  return ids.size;
}
