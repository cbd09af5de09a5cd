/**
 * What a search shows of each match: a short cut of the event's text around the words searched for, every
 * mention bracketed (`ls [report]<Enter>`).
 */

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
