import { describe, expect, it } from 'vitest';
import { ApiError } from '../../worker/errors.ts';
import { readWholeBody } from '../../worker/ingest/whole-body.ts';
import { api, connectLauncher, errorCode, type Launched, launch, request } from './helpers.ts';

function postBatch(s: Launched, batch: number, body: string | Uint8Array, token = s.token): Promise<Response> {
  return request(`/ingest/v1/sessions/${s.sessionId}/events/${batch}`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
}

const events = (...list: unknown[]) => JSON.stringify({ events: list });

const typed = (atMs: number, text: string, window = { title: 'root@db-01: ~', app: 'xterm' }) => ({
  type: 'keys',
  atMs,
  endMs: atMs + 1500,
  text,
  window,
});

interface EventOut {
  type: string;
  offsetMs: number;
  text: string | null;
  title: string | null;
  path: string | null;
  redacted: boolean;
}

async function activityOf(sessionId: string, query = ''): Promise<EventOut[]> {
  const res = await api(`/sessions/${sessionId}/activity${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { events: EventOut[] }).events;
}

async function active(): Promise<Launched> {
  const s = await launch();
  await connectLauncher(s);
  return s;
}

describe('activity ingest', () => {
  it('stores a batch and acknowledges it; a retry is a duplicate; another body is a conflict', async () => {
    const s = await active();
    const body = events(
      typed(1200, 'sudo systemctl restart nginx<Enter>'),
      { type: 'window.focus', atMs: 900, title: 'root@db-01: ~', app: 'xterm', pid: 4242 },
      {
        type: 'process.start',
        atMs: 2100,
        pid: 5001,
        ppid: 4242,
        name: 'systemctl',
        path: '/usr/bin/systemctl',
        commandLine: 'systemctl restart nginx',
        user: 'root',
      },
      { type: 'process.stop', atMs: 2600, pid: 5001, name: 'systemctl', path: '/usr/bin/systemctl', user: 'root' },
    );
    const res = await postBatch(s, 0, body);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ batch: 0, stored: 4, rejected: [], duplicate: false });
    const again = await postBatch(s, 0, body);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    const other = await postBatch(s, 0, events(typed(5000, 'rm -rf /')));
    expect(other.status).toBe(409);
    expect(await errorCode(other)).toBe('batch_conflict');

    const stored = await activityOf(s.sessionId);
    expect(stored.map((e) => [e.type, e.offsetMs])).toEqual([
      ['window.focus', 900],
      ['keys', 1200],
      ['process.start', 2100],
      ['process.stop', 2600],
    ]);
    expect(stored[2]).toMatchObject({ path: '/usr/bin/systemctl', text: 'systemctl restart nginx' });
  });

  it('refuses bad events one by one and keeps the rest of the batch', async () => {
    const s = await active();
    const res = await postBatch(
      s,
      0,
      events(
        typed(100, 'ls<Enter>'),
        { type: 'telepathy', atMs: 5 },
        typed(200, 'x'.repeat(70 * 1024)),
        typed(10 * 24 * 3_600_000, 'from the future'),
        typed(3_600_000, 'an hour past a session that just began'),
        { ...typed(500, 'backwards'), endMs: 100 },
        typed(300, 'pwd<Enter>'),
      ),
    );
    expect(res.status).toBe(201);
    const ack = (await res.json()) as { stored: number; rejected: Array<{ index: number; reason: string }> };
    expect(ack.stored).toBe(2);
    expect(ack.rejected.map((r) => r.index)).toEqual([1, 2, 3, 4, 5]);
    expect(ack.rejected[4]?.reason).toContain('endMs');
    expect((await activityOf(s.sessionId)).map((e) => e.text)).toEqual(['ls<Enter>', 'pwd<Enter>']);
  });

  it('keeps hostile text as text: markup, control characters and invalid UTF-8', async () => {
    const s = await active();
    const json = events(
      { type: 'window.focus', atMs: 10, title: '<script>alert(1)</script>', app: '<img src=x onerror=alert(2)>' },
      typed(20, 'echo \u0007\u001b[31mred\u0000<Enter>'),
    );
    // Splice an invalid UTF-8 byte (0xff) into the keystroke text.
    const bytes = new TextEncoder().encode(json.replace('red', 'r#d'));
    bytes[bytes.indexOf('#'.charCodeAt(0))] = 0xff;
    const res = await postBatch(s, 0, bytes);
    expect(res.status).toBe(201);
    const stored = await activityOf(s.sessionId);
    expect(stored[0]?.title).toBe('<script>alert(1)</script>');
    expect(stored[1]?.text).toBe('echo \u0007\u001b[31mr\ufffdd\u0000<Enter>');
  });

  it('takes hostile process names and arguments: escapes kept as text, a 1 MB argument bounded, a 3 MB batch refused', async () => {
    const s = await active();
    const proc = (atMs: number, name: string, commandLine: string) => ({
      type: 'process.start',
      atMs,
      pid: 7000 + atMs,
      ppid: 1,
      name,
      path: `/usr/bin/${name}`,
      commandLine,
      user: 'root',
    });
    const escapes = '\u001b]0;pwned\u0007\u001b[2J\u001b[31m';
    const json = events(
      proc(10, `evil${escapes}\u0000`, `evil ${escapes} --flag\u0008\u0008 \u202etxt.exe`),
      proc(20, 'big', `big ${'A'.repeat(1024 * 1024)}`),
      proc(30, 'bad', 'bad r#d'),
    );
    // An invalid UTF-8 byte (0xff) in the last command line.
    const bytes = new TextEncoder().encode(json);
    bytes[bytes.lastIndexOf('#'.charCodeAt(0))] = 0xff;
    const res = await postBatch(s, 0, bytes);
    expect(res.status).toBe(201);
    const ack = (await res.json()) as { stored: number; rejected: Array<{ index: number; reason: string }> };
    // The 1 MB argument is refused on its own, with the reason; the others are stored as they came.
    expect(ack.stored).toBe(2);
    expect(ack.rejected.map((r) => r.index)).toEqual([1]);
    expect(ack.rejected[0]?.reason).toMatch(/commandLine/);
    const stored = await activityOf(s.sessionId);
    expect(stored.map((e) => e.text)).toEqual([
      `evil ${'\u001b]0;pwned\u0007\u001b[2J\u001b[31m'} --flag\u0008\u0008 \u202etxt.exe`,
      'bad r\ufffdd',
    ]);
    // Searching for it still works, and finds the text as text.
    const found = await activityOf(s.sessionId, '?q=pwned');
    expect(found).toHaveLength(1);

    // A batch past the limit is refused whole, with a clear 413, and nothing of it is stored.
    const huge = events(
      ...Array.from({ length: 3 }, (_, i) => proc(100 + i, 'huge', `huge ${'B'.repeat(1024 * 1024)}`)),
    );
    const refused = await postBatch(s, 1, huge);
    expect(refused.status).toBe(413);
    expect(await errorCode(refused)).toBe('batch_too_large');
    expect(await activityOf(s.sessionId)).toHaveLength(2);
  });

  it('refuses keystrokes when the session does not record them', async () => {
    const s = await launch({ policy: { keystrokesEnabled: false } });
    await connectLauncher(s);
    const res = await postBatch(
      s,
      0,
      events(typed(10, 'secret'), { type: 'window.focus', atMs: 20, title: 't', app: 'a' }),
    );
    const ack = (await res.json()) as { stored: number; rejected: Array<{ reason: string }> };
    expect(ack.stored).toBe(1);
    expect(ack.rejected[0]?.reason).toContain('keystroke recording is off');
  });

  it.each([
    ['malformed JSON', '{"events": [', 400, 'invalid_json'],
    ['no events', events(), 400, 'invalid_batch'],
    [
      'too many events',
      JSON.stringify({ events: Array.from({ length: 501 }, (_, i) => typed(i, 'x')) }),
      400,
      'invalid_batch',
    ],
    ['an unknown field', JSON.stringify({ events: [typed(1, 'x')], extra: 1 }), 400, 'invalid_batch'],
    ['an oversized body', JSON.stringify({ events: [typed(1, 'x'.repeat(2_200_000))] }), 413, 'batch_too_large'],
  ])('answers %s with a JSON 4xx and stores nothing', async (_name, body, status, code) => {
    const s = await active();
    const res = await postBatch(s, 0, body);
    expect(res.status).toBe(status);
    expect(await errorCode(res)).toBe(code);
    expect(await activityOf(s.sessionId)).toEqual([]);
  });

  it('refuses a batch streamed without a length once it passes the limit, without holding the rest', async () => {
    const s = await active();
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let pulled = 0;
    // Endless: only the Worker stopping reading ends it.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await postBatch(s, 0, body as unknown as Uint8Array);
    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe('batch_too_large');
    expect(pulled).toBeLessThan(4 * 1024 * 1024);
  });

  it("reads a body that breaks off as the client's 400, not a crash", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"events": ['));
        controller.error(new Error('Network connection lost.'));
      },
    });
    const request = new Request('https://witness.test/', { method: 'POST', body });
    const refused = await readWholeBody(request, 1024, () => new ApiError(413, 'too_large', '')).catch((e) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(400);
    expect((refused as ApiError).code).toBe('incomplete_body');
  });

  it("refuses another session's token", async () => {
    const a = await active();
    const b = await active();
    const res = await postBatch(b, 0, events(typed(1, 'x')), a.token);
    expect(res.status).toBe(403);
    expect(await activityOf(b.sessionId)).toEqual([]);
  });
});

describe('activity search', () => {
  it('finds sessions by what was typed, run and shown, with snippets and offsets', async () => {
    const tag = `zq${crypto.randomUUID().slice(0, 6)}`;
    const s = await active();
    const quiet = await active();
    await postBatch(
      s,
      0,
      events(
        typed(4000, `cat /etc/${tag}.conf<Enter>`),
        { type: 'window.focus', atMs: 3000, title: `${tag} - Vault`, app: 'firefox' },
        {
          type: 'process.start',
          atMs: 4100,
          pid: 9,
          name: 'cat',
          path: `/opt/${tag}/bin/cat`,
          commandLine: 'cat',
          user: 'root',
        },
      ),
    );
    await postBatch(quiet, 0, events(typed(10, 'uptime<Enter>')));

    const search = async (query: string) => {
      const res = await api(`/sessions?${query}`);
      expect(res.status).toBe(200);
      return (
        (await res.json()) as {
          sessions: Array<{ id: string; matches: Array<{ type: string; offsetMs: number; snippet: string }> }>;
        }
      ).sessions;
    };
    const all = await search(`q=${tag}`);
    expect(all.map((x) => x.id)).toEqual([s.sessionId]);
    expect(all[0]?.matches.map((m) => [m.type, m.offsetMs])).toEqual([
      ['window.focus', 3000],
      ['keys', 4000],
      ['process.start', 4100],
    ]);
    expect(all[0]?.matches[1]?.snippet).toContain(`[${tag}]`);

    expect((await search(`q=${tag}&in=keystrokes`))[0]?.matches.map((m) => m.type)).toEqual(['keys']);
    expect((await search(`q=${tag}&in=windows`))[0]?.matches.map((m) => m.type)).toEqual(['window.focus']);
    expect((await search(`q=${tag}&in=processes`))[0]?.matches.map((m) => m.type)).toEqual(['process.start']);
    expect(await search(`q=${tag}&in=ssh`)).toEqual([]);
    expect(await search(`q=${tag}&user=somebody-else`)).toEqual([]);
  });

  it('finds every session with a common word, newest match first, up to the page size', async () => {
    const word = `common${crypto.randomUUID().slice(0, 6)}`;
    const launched: string[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await active();
      launched.push(s.sessionId);
      // Many matches in each session: a session must not crowd out the others.
      await postBatch(s, 0, events(...Array.from({ length: 40 }, (_, k) => typed(k * 10, `${word} status ${k}`))));
    }
    const page = (await (await api(`/sessions?q=${word}&limit=10`)).json()) as {
      sessions: Array<{ id: string; matches: unknown[] }>;
    };
    expect(page.sessions.map((x) => x.id)).toEqual(launched.slice(2).reverse());
    expect(page.sessions.every((x) => x.matches.length === 5)).toBe(true);
    const all = (await (await api(`/sessions?q=${word}&limit=50`)).json()) as { sessions: unknown[] };
    expect(all.sessions).toHaveLength(12);
  });

  it('treats search text as text, not query syntax', async () => {
    for (const q of ['" OR *', 'NEAR(a b)', 'a AND', '-x', '^', '(((']) {
      const res = await api(`/sessions?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
    }
    expect((await api('/sessions?in=keystrokes,nonsense&q=x')).status).toBe(400);
  });

  it('searches inside one session, and filters by type and time', async () => {
    const s = await active();
    await postBatch(
      s,
      0,
      events(typed(1000, 'ssh deploy@web-3<Enter>'), typed(9000, 'tail -f /var/log/syslog<Enter>'), {
        type: 'window.focus',
        atMs: 5000,
        title: 'deploy@web-3',
        app: 'xterm',
      }),
    );
    expect((await activityOf(s.sessionId, '?q=web-3')).map((e) => e.offsetMs)).toEqual([1000, 5000]);
    expect((await activityOf(s.sessionId, '?q=web-3&type=keys')).map((e) => e.offsetMs)).toEqual([1000]);
    expect((await activityOf(s.sessionId, '?from=2000&to=9000')).map((e) => e.offsetMs)).toEqual([5000, 9000]);
    expect((await activityOf(s.sessionId, '?type=keys&limit=1')).map((e) => e.offsetMs)).toEqual([1000]);
    expect((await api(`/sessions/${s.sessionId}/activity?type=bogus`)).status).toBe(400);
  });

  it('pages through a session in time order', async () => {
    const s = await active();
    await postBatch(s, 1, events(typed(3000, 'c'), typed(4000, 'd')));
    await postBatch(s, 0, events(typed(1000, 'a'), typed(2000, 'b')));
    const first = (await (await api(`/sessions/${s.sessionId}/activity?limit=3`)).json()) as {
      events: EventOut[];
      nextCursor: string;
    };
    expect(first.events.map((e) => e.text)).toEqual(['a', 'b', 'c']);
    const rest = (await (await api(`/sessions/${s.sessionId}/activity?limit=3&cursor=${first.nextCursor}`)).json()) as {
      events: EventOut[];
      nextCursor: string | null;
    };
    expect(rest.events.map((e) => e.text)).toEqual(['d']);
    expect(rest.nextCursor).toBeNull();
  });
});

describe('activity density', () => {
  it('counts keystrokes, process events and window changes per bucket; redacted text is not counted', async () => {
    const s = await active();
    await postBatch(
      s,
      0,
      events(
        typed(500, 'abc'),
        typed(1500, 'hello<Enter>'),
        { ...typed(2500, '<redacted>'), redacted: true },
        { type: 'process.start', atMs: 3500, pid: 1, name: 'x', path: '/x', commandLine: 'x', user: 'u' },
        { type: 'window.focus', atMs: 3600, title: 't', app: 'a' },
      ),
    );
    const res = await api(`/sessions/${s.sessionId}/activity/density?buckets=4`);
    expect(res.status).toBe(200);
    const density = (await res.json()) as { bucketMs: number; buckets: Array<Record<string, number>> };
    expect(density.bucketMs).toBe(1000);
    expect(density.buckets.map((b) => [b.keystrokes, b.processEvents, b.windowChanges])).toEqual([
      [3, 0, 0],
      [12, 0, 0],
      [0, 0, 0],
      [0, 1, 1],
    ]);
    expect((await api(`/sessions/${s.sessionId}/activity/density?buckets=0`)).status).toBe(400);
  });
});
