/**
 * Secrets are never stored in clear, whoever sent them: the server redacts every event it stores (the second line
 * behind the clients), with the built-in patterns and the administrator's, counts what was replaced, and none of
 * it can be found by search.
 */
import { env } from 'cloudflare:workers';
import { afterAll, describe, expect, it } from 'vitest';
import { api, connectLauncher, type Launched, launch, request } from './helpers.ts';

function postBatch(s: Launched, batch: number, list: unknown[]): Promise<Response> {
  return request(`/ingest/v1/sessions/${s.sessionId}/events/${batch}`, {
    method: 'POST',
    body: JSON.stringify({ events: list }),
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
  });
}

async function active(): Promise<Launched> {
  const s = await launch();
  await connectLauncher(s);
  return s;
}

interface EventOut {
  type: string;
  text: string | null;
  title: string | null;
  path: string | null;
}

async function activityOf(sessionId: string, query = ''): Promise<EventOut[]> {
  const res = await api(`/sessions/${sessionId}/activity${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { events: EventOut[] }).events;
}

async function batchRedactions(sessionId: string): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare('SELECT redactions FROM activity_batches WHERE session_id = ?1')
    .bind(sessionId)
    .all<{ redactions: string }>();
  const total: Record<string, number> = {};
  for (const row of results) {
    for (const [kind, n] of Object.entries(JSON.parse(row.redactions) as Record<string, number>)) {
      total[kind] = (total[kind] ?? 0) + n;
    }
  }
  return total;
}

const start = (atMs: number, commandLine: string) => ({
  type: 'process.start',
  atMs,
  pid: 100 + atMs,
  name: commandLine.split(' ')[0],
  path: `/usr/bin/${commandLine.split(' ')[0]}`,
  commandLine,
  user: 'alice',
});

afterAll(async () => {
  await api('/settings/redaction', { method: 'PUT', body: JSON.stringify({ patterns: [] }) });
});

describe('server-side redaction', () => {
  it('stores no secret an older client sent in clear, counts each, and search does not find it', async () => {
    const s = await active();
    const res = await postBatch(s, 0, [
      start(10, 'mysql -uroot -pZq7Secret db'),
      start(20, 'env PGPASSWORD=Zq7Pg psql -h db'),
      { type: 'window.focus', atMs: 30, title: 'curl -H Authorization: Bearer Zq7Bearer0123456789 x', app: 'xterm' },
      { type: 'keys', atMs: 40, endMs: 50, text: 'git clone https://bob:Zq7Url@git.example.com/r<Enter>' },
    ]);
    expect(res.status).toBe(201);
    const stored = await activityOf(s.sessionId);
    expect(stored.map((e) => e.text ?? e.title)).toEqual([
      'mysql -uroot -p<redacted:password> db',
      'env PGPASSWORD=<redacted:secret-assignment> psql -h db',
      'curl -H Authorization: Bearer <redacted:authorization> x',
      'git clone https://bob:<redacted:url-credentials>@git.example.com/r<Enter>',
    ]);
    expect(JSON.stringify(stored)).not.toContain('Zq7');
    const counted = { password: 1, 'secret-assignment': 1, authorization: 1, 'url-credentials': 1 };
    expect(await batchRedactions(s.sessionId)).toEqual(counted);
    // The session's record says so.
    expect(((await (await api(`/sessions/${s.sessionId}`)).json()) as { redactions: unknown }).redactions).toEqual(
      counted,
    );
    for (const secret of ['Zq7Secret', 'Zq7Pg', 'Zq7Bearer0123456789', 'Zq7Url']) {
      expect(await activityOf(s.sessionId, `?q=${secret}`), secret).toEqual([]);
      const across = (await (await api(`/sessions?q=${secret}`)).json()) as { sessions: unknown[] };
      expect(across.sessions, secret).toEqual([]);
    }
  });

  it('counts what a client redacted itself, and does not redact its markers again', async () => {
    const s = await active();
    expect((await postBatch(s, 0, [start(10, 'psql --password=<redacted:password> -h db')])).status).toBe(201);
    expect((await activityOf(s.sessionId))[0]?.text).toBe('psql --password=<redacted:password> -h db');
    expect(await batchRedactions(s.sessionId)).toEqual({ password: 1 });
  });

  it("applies the administrator's patterns to events stored after they are set", async () => {
    const s = await active();
    expect((await postBatch(s, 0, [start(10, 'ticket TCK-654321 opened')])).status).toBe(201);
    const set = await api('/settings/redaction', {
      method: 'PUT',
      body: JSON.stringify({ patterns: [{ name: 'ticket', pattern: 'TCK-[0-9]{6}' }] }),
    });
    expect(set.status).toBe(200);
    expect((await postBatch(s, 1, [start(20, 'ticket TCK-123456 closed')])).status).toBe(201);
    const texts = (await activityOf(s.sessionId)).map((e) => e.text);
    expect(texts).toEqual(['ticket TCK-654321 opened', 'ticket <redacted:ticket> closed']);
    expect(await batchRedactions(s.sessionId)).toEqual({ custom: 1 });
    const audit = (await (await api('/audit?action=settings.changed&target=redaction')).json()) as {
      entries: Array<{ details: { after: { patterns: unknown[] } } }>;
    };
    expect(audit.entries[0]?.details.after.patterns).toEqual([{ name: 'ticket', pattern: 'TCK-[0-9]{6}' }]);
  });

  it('runs a catastrophic pattern such as (a+)+$ in time linear in the text (RE2), on the longest texts', async () => {
    const set = await api('/settings/redaction', {
      method: 'PUT',
      body: JSON.stringify({
        patterns: [
          { name: 'runs', pattern: '(a+)+$' },
          { name: 'alt', pattern: '(x|x)*y' },
        ],
      }),
    });
    expect(set.status).toBe(200);
    const s = await active();
    // With a backtracking engine each of these would take longer than the universe has left.
    const runs = `run ${'a'.repeat(60_000)}!`;
    const alternatives = `alt ${'x'.repeat(60_000)}z`;
    const res = await postBatch(s, 0, [start(10, runs), start(20, alternatives), start(30, 'run aaaa')]);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { stored: number }).stored).toBe(3);
    const texts = (await activityOf(s.sessionId)).map((e) => e.text);
    // Compared without printing 60,000 characters on a failure.
    expect(texts.map((t) => (t === runs ? 'runs' : t === alternatives ? 'alternatives' : t))).toEqual([
      'runs',
      'alternatives',
      'run <redacted:runs>',
    ]);
    expect(await batchRedactions(s.sessionId)).toEqual({ custom: 1 });
  });

  it('refuses a pattern that is not a regular expression, or matches empty text, with a 400 and keeps the old ones', async () => {
    const before = await (await api('/settings/redaction')).json();
    // Backreferences and lookaround are what RE2 cannot run in linear time: refused with the reason.
    for (const pattern of ['(unclosed', '.*', '(\\w)\\1', '(?=a)b', '(?<!x)y']) {
      const res = await api('/settings/redaction', {
        method: 'PUT',
        body: JSON.stringify({ patterns: [{ name: 'bad', pattern }] }),
      });
      expect(res.status, pattern).toBe(400);
    }
    expect(await (await api('/settings/redaction')).json()).toEqual(before);
  });
});
