/**
 * Keeping the word lists a search expands words from (query.ts): `activity_search_terms` for prefixes,
 * `activity_search_compounds` for compound spellings (migrations 0006 and 0008).
 */

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
