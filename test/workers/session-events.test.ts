/** A session's events as `sessionEvents` selects them: filters, paging by cursor, search within the session. */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { sessionMatches } from '../../worker/activity/search/session.ts';
import { snippets } from '../../worker/activity/search/snippets.ts';
import { FLUSH_SEARCH_TERMS } from '../../worker/activity/search/terms.ts';
import { sessionEvents } from '../../worker/activity/session-events.ts';
import { launch } from './helpers.ts';

/** A launched session with these events stored through the `activity` table (the same triggers as ingest). */
async function sessionWith(events: Array<{ type: string; atMs: number; text?: string; title?: string }>) {
  const { sessionId } = await launch({ user: 'events', target: 'events.example' });
  await env.DB.batch([
    ...events.map((e, i) =>
      env.DB.prepare(
        'INSERT INTO activity (session_id, batch, idx, type, at_ms, text, title, redacted) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, 0)',
      ).bind(sessionId, i, e.type, e.atMs, e.text ?? null, e.title ?? null),
    ),
    ...FLUSH_SEARCH_TERMS.map((s) => env.DB.prepare(s)),
  ]);
  return sessionId;
}

const word = () => `ev${crypto.randomUUID().slice(0, 8)}`;

describe('sessionEvents', () => {
  it('lists the events in time order, filtered by type and time', async () => {
    const id = await sessionWith([
      { type: 'keys', atMs: 300, text: 'ls' },
      { type: 'window.focus', atMs: 100, title: 'xterm' },
      { type: 'keys', atMs: 200, text: 'cd /' },
    ]);
    const all = await sessionEvents(env.DB, id, { limit: 10 });
    expect(all.events.map((e) => e.offsetMs)).toEqual([100, 200, 300]);
    expect(all.nextCursor).toBeNull();
    const keys = await sessionEvents(env.DB, id, { limit: 10, type: ['keys'], from: 250 });
    expect(keys.events.map((e) => [e.type, e.offsetMs])).toEqual([['keys', 300]]);
    expect((await sessionEvents(env.DB, id, { limit: 10, to: 150 })).events.map((e) => e.offsetMs)).toEqual([100]);
  });

  it('pages by `atMs~id`, events at the same time in the order stored', async () => {
    const id = await sessionWith([
      { type: 'keys', atMs: 100, text: 'a' },
      { type: 'keys', atMs: 100, text: 'b' },
      { type: 'keys', atMs: 200, text: 'c' },
    ]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 5; pages++) {
      const page = await sessionEvents(env.DB, id, { limit: 1, cursor });
      seen.push(...page.events.map((e) => e.text ?? ''));
      if (!page.nextCursor) break;
      expect(page.nextCursor).toMatch(/^\d+~\d+$/);
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it("searches only this session's events", async () => {
    const w = word();
    const id = await sessionWith([
      { type: 'keys', atMs: 100, text: `echo ${w}` },
      { type: 'keys', atMs: 200, text: 'something else' },
      { type: 'window.focus', atMs: 300, title: `${w} - editor` },
    ]);
    const other = await sessionWith([{ type: 'keys', atMs: 100, text: `echo ${w}` }]);
    const found = await sessionEvents(env.DB, id, { limit: 10, q: w });
    expect(found.events.map((e) => e.offsetMs)).toEqual([100, 300]);
    expect((await sessionEvents(env.DB, other, { limit: 10, q: w })).events).toHaveLength(1);
    expect(await sessionEvents(env.DB, id, { limit: 10, q: word() })).toEqual({ events: [], nextCursor: null });
  });

  it('finds nothing in a session without events, or for text without words', async () => {
    const { sessionId } = await launch();
    expect(await sessionMatches(env.DB, sessionId, 'anything')).toBeNull();
    expect(await sessionMatches(env.DB, sessionId, '   ')).toBeNull();
    expect(await sessionEvents(env.DB, sessionId, { limit: 10, q: 'anything' })).toEqual({
      events: [],
      nextCursor: null,
    });
  });
});

describe('snippets', () => {
  it('brackets every mention in the first field that has one, cut around the first', () => {
    const snippet = snippets(['nginx', 'restart']);
    expect(snippet([null, 'sudo systemctl restart nginx', 'nginx.service'])).toBe('sudo systemctl [restart] [nginx]');
    const long = `${'x'.repeat(60)} nginx ${'y'.repeat(100)}`;
    expect(snippet([long])).toBe(`…${'x'.repeat(39)} [nginx] ${'y'.repeat(74)}…`);
  });

  it('falls back to the start of the first field when no word is mentioned', () => {
    expect(snippets(['absent'])([null, 'a'.repeat(200)])).toBe('a'.repeat(120));
    expect(snippets([])(['text'])).toBe('text');
  });
});
