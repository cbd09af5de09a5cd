/** Cross-session activity search: paging through every matching session, fresh batches, redaction, prefixes. */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { FLUSH_SEARCH_TERMS } from '../../worker/activity/search/terms.ts';
import { api, connectLauncher, type Launched, launch, request } from './helpers.ts';

interface Found {
  id: string;
  matches: Array<{ type: string; offsetMs: number; snippet: string }>;
}
interface Page {
  sessions: Found[];
  nextCursor: string | null;
}

async function search(query: string): Promise<Page> {
  const res = await api(`/sessions?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
}

/** Every page of a search, following `nextCursor`. */
async function allPages(query: string): Promise<Page[]> {
  const pages = [await search(query)];
  for (let cursor = pages[0]?.nextCursor; cursor; cursor = pages[pages.length - 1]?.nextCursor) {
    pages.push(await search(`${query}&cursor=${encodeURIComponent(cursor)}`));
    if (pages.length > 100) throw new Error('paging does not end');
  }
  return pages;
}

function postBatch(s: Launched, batch: number, events: unknown[]): Promise<Response> {
  return request(`/ingest/v1/sessions/${s.sessionId}/events/${batch}`, {
    method: 'POST',
    body: JSON.stringify({ events }),
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
  });
}

const typed = (atMs: number, text: string, extra: Record<string, unknown> = {}) => ({
  type: 'keys',
  atMs,
  endMs: atMs + 1000,
  text,
  window: { title: 'root@db-01: ~', app: 'xterm' },
  ...extra,
});

async function active(body: Record<string, unknown> = {}): Promise<Launched> {
  const s = await launch(body);
  await connectLauncher(s);
  return s;
}

/**
 * `count` sessions copied from a launched one, each with three keystroke runs holding `word`, stored through
 * the `activity` table (the same triggers as ingest) in session order, like sessions arriving one by one.
 */
async function manySessions(word: string, count: number): Promise<string[]> {
  const db = env.DB;
  const model = await launch({ user: 'pager', target: 'many.example' });
  const row = await db.prepare('SELECT * FROM sessions WHERE id = ?1').bind(model.sessionId).first();
  if (!row) throw new Error('no model session');
  const columns = Object.keys(row);
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  const statements = ids.flatMap((id, i) => [
    db
      .prepare(`INSERT INTO sessions (${columns.join(', ')}) VALUES (${columns.map((_, j) => `?${j + 1}`).join(', ')})`)
      .bind(...columns.map((c) => (c === 'id' ? id : c === 'created_at' ? (row.created_at as number) + i : row[c]))),
    db
      .prepare(
        `INSERT INTO activity (session_id, batch, idx, type, at_ms, end_ms, text, redacted)
         VALUES (?1, 0, 0, 'keys', 100, 200, ?2, 0), (?1, 0, 1, 'keys', 300, 400, ?3, 0),
                (?1, 0, 2, 'keys', 500, 600, ?4, 0)`,
      )
      .bind(id, `echo ${word} one`, `ls ${word}<Enter>`, `${word} three`),
  ]);
  for (let i = 0; i < statements.length; i += 200) await db.batch(statements.slice(i, i + 200));
  await db.batch(FLUSH_SEARCH_TERMS.map((s) => db.prepare(s)));
  return ids;
}

describe('cross-session search', () => {
  it('pages through every session with a common word, newest first, each session once', async () => {
    const word = `pg${crypto.randomUUID().slice(0, 8)}`;
    const ids = await manySessions(word, 1500);
    const pages = await allPages(`q=${word}&in=keystrokes&limit=200`);
    expect(pages).toHaveLength(8);
    const found = pages.flatMap((p) => p.sessions);
    expect(found.map((s) => s.id)).toEqual([...ids].reverse());
    expect(found.every((s) => s.matches.length === 3)).toBe(true);
    expect(found[0]?.matches.map((m) => m.offsetMs)).toEqual([100, 300, 500]);
    expect(found[0]?.matches[1]?.snippet).toBe(`ls [${word}]<Enter>`);
    expect(pages[pages.length - 1]?.nextCursor).toBeNull();

    // The last word is a prefix: its first letters find the same sessions.
    const prefix = await allPages(`q=${word.slice(0, 6)}&in=keystrokes&limit=200`);
    expect(prefix.flatMap((p) => p.sessions).length).toBeGreaterThanOrEqual(1500);
    // Filters apply while paging: none of these sessions is someone else's.
    expect((await search(`q=${word}&user=somebody-else`)).sessions).toEqual([]);
    expect((await search(`q=${word}&in=windows`)).sessions).toEqual([]);
  });

  it('finds what later batches add, in older sessions too, and their new words by prefix', async () => {
    const word = `late${crypto.randomUUID().slice(0, 8)}`;
    const older = await active();
    const newer = await active();
    expect((await postBatch(older, 0, [typed(100, 'uptime<Enter>')])).status).toBe(201);
    expect((await postBatch(newer, 0, [typed(100, `vim ${word}.conf<Enter>`)])).status).toBe(201);
    expect((await search(`q=${word}`)).sessions.map((s) => s.id)).toEqual([newer.sessionId]);

    expect((await postBatch(older, 1, [typed(5000, `cat /etc/${word}.conf<Enter>`)])).status).toBe(201);
    const both = await search(`q=${word}`);
    // Sessions are listed by their first event: the older session stays below the newer one.
    expect(both.sessions.map((s) => s.id)).toEqual([newer.sessionId, older.sessionId]);
    expect(both.sessions[1]?.matches.map((m) => m.offsetMs)).toEqual([5000]);

    // A word first seen in this batch is in the term list that prefixes expand into.
    const fresh = `${word}zz`;
    expect(
      (await postBatch(older, 2, [{ type: 'window.focus', atMs: 6000, title: `${fresh} - Vault`, app: 'x' }])).status,
    ).toBe(201);
    const term = await env.DB.prepare('SELECT term FROM activity_search_terms WHERE term = ?1').bind(fresh).first();
    expect(term).toEqual({ term: fresh });
    const byPrefix = await search(`q=${fresh.slice(0, -1)}&in=windows`);
    expect(byPrefix.sessions.map((s) => s.id)).toEqual([older.sessionId]);
    expect(byPrefix.sessions[0]?.matches[0]).toMatchObject({ type: 'window.focus', offsetMs: 6000 });
  });

  it('never stores what was typed into a password prompt, even when a launcher sends it', async () => {
    const secret = `hunter${crypto.randomUUID().slice(0, 8)}`;
    const s = await active();
    const res = await postBatch(s, 0, [
      typed(100, '<redacted>', { redacted: true }),
      // A faulty launcher flags the run but sends the text anyway: that event alone is refused.
      typed(200, `${secret}<Enter>`, { redacted: true }),
      typed(300, `echo ${secret.slice(0, 6)}<Enter>`),
    ]);
    expect(res.status).toBe(201);
    const ack = (await res.json()) as { stored: number; rejected: Array<{ index: number; reason: string }> };
    expect(ack.stored).toBe(2);
    expect(ack.rejected).toEqual([{ index: 1, reason: "a redacted run's text must be <redacted>" }]);
    const stored = await env.DB.prepare('SELECT count(*) AS n FROM activity WHERE text LIKE ?1')
      .bind(`%${secret}%`)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
    expect((await search(`q=${secret}`)).sessions).toEqual([]);
    const prompts = (await search(`q=redacted&in=keystrokes`)).sessions.find((x) => x.id === s.sessionId);
    expect(prompts?.matches.map((m) => m.offsetMs)).toEqual([100]);
  });

  it('keeps phrase, prefix and category rules: words match within one event and one category', async () => {
    const tag = `ph${crypto.randomUUID().slice(0, 6)}`;
    const s = await active();
    await postBatch(s, 0, [
      typed(100, `ssh app-uat-${tag}<Enter>`),
      { type: 'window.focus', atMs: 200, title: `deploy ${tag}x`, app: 'firefox' },
      typed(300, `uat app ${tag}`, { window: { title: 'other', app: 'xterm' } }),
    ]);
    const offsets = async (q: string) =>
      (await search(`q=${encodeURIComponent(q)}`)).sessions
        .find((x) => x.id === s.sessionId)
        ?.matches.map((m) => m.offsetMs) ?? [];
    // A hyphenated word is a phrase: `uat app` in another order does not match it.
    expect(await offsets(`app-uat-${tag}`)).toEqual([100]);
    // The last word is a prefix (of the window title's `${tag}x` too); earlier words are whole.
    expect(await offsets(tag)).toEqual([100, 200, 300]);
    expect(await offsets(`deploy ${tag}`)).toEqual([200]);
    expect(await offsets(`deplo ${tag}`)).toEqual([]);
    // Both words must be in one category of one event: `ssh` is typed, `deploy` is a title.
    expect(await offsets(`ssh deploy`)).toEqual([]);
    // Short last words are whole words.
    expect(await offsets(`${tag.slice(0, 2)}`)).toEqual([]);
    // Query syntax is text.
    expect(await offsets(`${tag} OR zzz`)).toEqual([]);
  });

  it('refuses a cursor that is not one', async () => {
    expect((await api('/sessions?q=x&cursor=nonsense')).status).toBe(400);
  });
});

describe('search inside one session', () => {
  interface SessionPage {
    events: Array<{ offsetMs: number; text: string | null; redacted: boolean }>;
    nextCursor: string | null;
  }
  async function sessionSearch(sessionId: string, query: string): Promise<SessionPage> {
    const res = await api(`/sessions/${sessionId}/activity?${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as SessionPage;
  }

  it("finds a session's matches however many other sessions matched before it", async () => {
    const word = `busy${crypto.randomUUID().slice(0, 8)}`;
    const other = await active();
    // 20,001 matching events stored before the session's own: more than any fixed cap on a global pass.
    await env.DB.prepare(
      `INSERT INTO activity (session_id, batch, idx, type, at_ms, end_ms, text, redacted)
       WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
       SELECT ?1, 0, i, 'keys', i, i, ?2, 0 FROM n`,
    )
      .bind(other.sessionId, `grep ${word} /var/log/syslog`)
      .run();
    const s = await active();
    expect((await postBatch(s, 0, [typed(100, `echo ${word}<Enter>`), typed(200, 'uptime<Enter>')])).status).toBe(201);
    const found = await sessionSearch(s.sessionId, `q=${word}`);
    expect(found.events.map((e) => [e.offsetMs, e.text])).toEqual([[100, `echo ${word}<Enter>`]]);
    expect((await sessionSearch(other.sessionId, `q=${word}&limit=5`)).events).toHaveLength(5);
  });

  it('pages through the matches in time order', async () => {
    const s = await active();
    await postBatch(s, 1, [typed(3000, 'sudo systemctl restart nginx<Enter>'), typed(4000, 'uptime<Enter>')]);
    await postBatch(s, 0, [typed(1000, 'systemctl status nginx<Enter>'), typed(2000, 'journalctl -u nginx<Enter>')]);
    const first = await sessionSearch(s.sessionId, 'q=nginx&limit=2');
    expect(first.events.map((e) => e.offsetMs)).toEqual([1000, 2000]);
    expect(first.nextCursor).not.toBeNull();
    const rest = await sessionSearch(s.sessionId, `q=nginx&limit=2&cursor=${first.nextCursor}`);
    expect(rest.events.map((e) => e.offsetMs)).toEqual([3000]);
    expect(rest.nextCursor).toBeNull();
  });

  it('finds redacted runs only as redacted', async () => {
    const s = await active();
    await postBatch(s, 0, [
      typed(100, '<redacted>', { redacted: true }),
      typed(200, 'sudo -i<Enter>'),
      typed(300, '<redacted>', { redacted: true }),
    ]);
    const prompts = await sessionSearch(s.sessionId, 'q=redacted');
    expect(prompts.events.map((e) => [e.offsetMs, e.redacted])).toEqual([
      [100, true],
      [300, true],
    ]);
    expect((await sessionSearch(s.sessionId, 'q=sudo')).events.map((e) => e.offsetMs)).toEqual([200]);
  });
});

describe('words with joiners: hostnames, paths, file and user names', () => {
  async function sessionOffsets(sessionId: string, q: string): Promise<number[]> {
    const res = await api(`/sessions/${sessionId}/activity?q=${encodeURIComponent(q)}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { events: Array<{ offsetMs: number }> }).events.map((e) => e.offsetMs);
  }

  it('finds a spelling inside a compound word at part boundaries, as spelled', async () => {
    const tag = `h${crypto.randomUUID().slice(0, 6)}`;
    const s = await active();
    await postBatch(s, 0, [
      typed(100, `ssh deploy@app-${tag}-08.corp.example<Enter>`),
      typed(200, `sudo tail -f /opt/${tag}/syslog.conf<Enter>`),
      typed(300, `type C:\\Users\\${tag}\\notes.txt<Enter>`),
      typed(400, `echo app ${tag} 08<Enter>`),
    ]);
    const at = (q: string) => sessionOffsets(s.sessionId, q);
    expect(await at(`app-${tag}-08`)).toEqual([100]);
    expect(await at(`${tag}-08.corp`)).toEqual([100]);
    expect(await at(`deploy@app-${tag}-08.corp.example`)).toEqual([100]);
    // The last word is a prefix; an earlier word ends at a part boundary.
    expect(await at(`app-${tag}-0`)).toEqual([100]);
    expect(await at(`app-${tag}-0 ssh`)).toEqual([]);
    expect(await at(`ssh app-${tag}-08`)).toEqual([100]);
    // Not at a boundary, or spelled with other joiners: no match (the parts as words still match).
    expect(await at(`pp-${tag}-08`)).toEqual([]);
    expect(await at(`app.${tag}.08`)).toEqual([]);
    expect(await at(`${tag}`)).toEqual([100, 200, 300, 400]);
    // Paths, from any component on.
    expect(await at(`/opt/${tag}`)).toEqual([200]);
    expect(await at(`${tag}/syslog.conf`)).toEqual([200]);
    expect(await at('syslog.conf')).toContain(200);
    expect(await at(`users\\${tag}\\notes.txt`)).toEqual([300]);
    // Across sessions too, in one category.
    const found = await search(`q=${encodeURIComponent(`${tag}-08.corp`)}&in=keystrokes`);
    expect(found.sessions.map((x) => x.id)).toEqual([s.sessionId]);
    expect(found.sessions[0]?.matches[0]?.snippet).toContain(`[${tag}-08.corp]`);
    expect((await search(`q=${encodeURIComponent(`${tag}-08.corp`)}&in=windows`)).sessions).toEqual([]);
  });

  it('searches a spelling held by too many compound words as the phrase of its parts', async () => {
    const tag = `n${crypto.randomUUID().slice(0, 6)}`;
    const s = await active();
    const hosts = Array.from({ length: 40 }, (_, i) => typed(100 * (i + 1), `ping node${i}-${tag}.lan<Enter>`));
    expect((await postBatch(s, 0, hosts)).status).toBe(201);
    expect(await sessionOffsets(s.sessionId, `${tag}.lan`)).toEqual(hosts.map((h) => h.atMs));
    expect(await sessionOffsets(s.sessionId, `node7-${tag}.lan`)).toEqual([800]);
  });

  it('forgets a deleted event in the index', async () => {
    const tag = `d${crypto.randomUUID().slice(0, 6)}`;
    const s = await active();
    await postBatch(s, 0, [typed(100, `rm -rf /srv/${tag}/cache<Enter>`), typed(200, `ls /srv/${tag}<Enter>`)]);
    expect(await sessionOffsets(s.sessionId, `/srv/${tag}`)).toEqual([100, 200]);
    await env.DB.prepare('DELETE FROM activity WHERE session_id = ?1 AND at_ms = 100').bind(s.sessionId).run();
    expect(await sessionOffsets(s.sessionId, `/srv/${tag}`)).toEqual([200]);
    expect(await sessionOffsets(s.sessionId, 'cache')).toEqual([]);
    const check = env.DB.prepare("INSERT INTO activity_search (activity_search) VALUES ('integrity-check')");
    await expect(check.run()).resolves.toBeTruthy();
  });
});
