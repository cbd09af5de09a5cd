/**
 * The search benchmark's queries: words and names from the corpus's vocabulary, sorted into rare, medium and
 * common by how many events they actually match in the loaded data, plus two-word queries and words that
 * occur nowhere. Deterministic for a given database and seed.
 */
import type { DatabaseSync } from 'node:sqlite';
import { seededRandom, type Vocabulary } from './corpus.ts';

export type QueryKind = 'rare' | 'medium' | 'common' | 'two words' | 'absent';

export interface SearchQuery {
  q: string;
  kind: QueryKind;
  /** Events whose searched columns match (the FTS match, no per-category type filter or limit). */
  rows: number;
  /** Sessions with at least one such event. */
  sessions: number;
}

/** Matched events: rare below RARE, common from COMMON. */
export const RARE_BELOW = 200;
export const COMMON_FROM = 10_000;

/** Columns searched by `in=keystrokes,processes,windows` (text, title, name, path). */
const SEARCHED = ['text', 'title', 'name', 'path'];

function everyNth<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  // Spread over ranks on a log scale, so common and rare entries of a Zipf list are both represented.
  const out = new Set<T>();
  for (let i = 0; i < count; i++) {
    out.add(items[Math.min(items.length - 1, Math.floor(Math.exp((Math.log(items.length) * i) / count)) - 1)] as T);
  }
  for (let i = 0; out.size < count && i < items.length; i += Math.ceil(items.length / count)) out.add(items[i] as T);
  return [...out];
}

function candidates(v: Vocabulary): { single: string[]; twoWords: string[] } {
  const hostNames = v.hosts.items.map((h) => h.split('.')[0] as string);
  const single = [
    ...v.commands.items,
    ...v.subcommands.items.filter((s) => !s.startsWith('-')),
    ...v.words.items,
    ...everyNth(hostNames, 120),
    ...everyNth(v.packages.items, 80),
    ...everyNth(v.users.items, 60),
    ...everyNth(v.files.items, 60).map((f, i) => (i % 2 ? f : f.slice(f.lastIndexOf('/') + 1))),
    ...everyNth(v.tickets.items, 60),
  ];
  const twoWords = [
    ...v.commands.items.slice(0, 12).map((c, i) => `${c} ${v.subcommands.items[i * 3] as string}`),
    ...v.commands.items.slice(0, 10).map((c, i) => `${c} ${hostNames[i * 17] as string}`),
    ...v.words.items.slice(20, 30).map((w, i) => `${w} ${v.words.items[60 + i * 7] as string}`),
  ];
  return { single: [...new Set(single)].filter((q) => q.length >= 2), twoWords };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Picks up to `perKind` of each kind (rare, medium, common), `twoWords` two-word queries and `absent`
 * words that match nothing; returns them in a shuffled order, so no kind runs in a block. Counts on the
 * reference index (database.ts buildReferenceIndex), which must be built.
 */
export function chooseQueries(
  db: DatabaseSync,
  v: Vocabulary,
  ftsQuery: (text: string, columns?: readonly string[] | null) => string | null,
  counts: { perKind: number; twoWords: number; absent: number },
  seed: number,
): SearchQuery[] {
  const random = seededRandom(seed);
  const countRows = db.prepare('SELECT count(*) AS n FROM bench_reference WHERE bench_reference MATCH ?');
  const countSessions = db.prepare(
    `SELECT count(DISTINCT a.session_id) AS n
       FROM bench_reference JOIN activity a ON a.id = bench_reference.rowid WHERE bench_reference MATCH ?`,
  );
  const rowsOf = (q: string) => (countRows.get(ftsQuery(q, SEARCHED) as string) as { n: number }).n;
  const { single, twoWords } = candidates(v);
  const byKind = new Map<QueryKind, Array<{ q: string; rows: number }>>();
  const add = (kind: QueryKind, q: string, rows: number) =>
    byKind.set(kind, [...(byKind.get(kind) ?? []), { q, rows }]);
  for (const q of single) {
    const rows = rowsOf(q);
    if (rows === 0) continue;
    add(rows < RARE_BELOW ? 'rare' : rows < COMMON_FROM ? 'medium' : 'common', q, rows);
  }
  for (const q of twoWords) {
    const rows = rowsOf(q);
    if (rows > 0) add('two words', q, rows);
  }
  // Misspellings and made-up names: a search that finds nothing must still be fast.
  for (const q of [
    'kubernetis',
    'sytemctl',
    'ngnix',
    'postgress',
    'zqxjv',
    'db-prod-99',
    'INC9999999',
    'anna.smith',
    '/etc/shadoww',
    'libfoo-dev',
    'terrafrom',
    'grafanna',
  ]) {
    if (rowsOf(q) === 0) add('absent', q, 0);
  }
  const chosen: SearchQuery[] = [];
  const take = (kind: QueryKind, n: number) => {
    for (const { q, rows } of shuffle([...(byKind.get(kind) ?? [])], random).slice(0, n)) {
      const sessions = rows === 0 ? 0 : (countSessions.get(ftsQuery(q, SEARCHED) as string) as { n: number }).n;
      chosen.push({ q, kind, rows, sessions });
    }
  };
  take('rare', counts.perKind);
  take('medium', counts.perKind);
  take('common', counts.perKind);
  take('two words', counts.twoWords);
  take('absent', counts.absent);
  return shuffle(chosen, random);
}
