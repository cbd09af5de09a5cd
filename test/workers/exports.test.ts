/**
 * What an auditor downloads: a session's activity as CSV and JSON (the grid's events, video offset and wall
 * clock, formula-safe CSV), a terminal session's transcript from its sealed .cast; each download one audit row.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, connectLauncher, errorCode, type Launched, launch, putPiece, request } from './helpers.ts';

const encoder = new TextEncoder();

function postBatch(s: Launched, batch: number, list: unknown[]): Promise<Response> {
  return request(`/ingest/v1/sessions/${s.sessionId}/events/${batch}`, {
    method: 'POST',
    body: JSON.stringify({ events: list }),
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
  });
}

async function exportRows(action: string, session: string): Promise<Array<{ details: Record<string, unknown> }>> {
  const res = await api(`/audit?action=${action}&target=${session}&limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: Array<{ details: Record<string, unknown> }> }).entries;
}

/** Parses the CSV the export writes (quoted cells with "" inside, commas, newlines in quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += char;
  }
  return rows;
}

async function sessionWithActivity(): Promise<Launched> {
  const s = await launch();
  await connectLauncher(s);
  const events = [
    { type: 'window.focus', atMs: 900, title: '=HYPERLINK("http://evil.example/","click")', app: 'xterm', pid: 42 },
    { type: 'keys', atMs: 1200, endMs: 2700, text: 'echo "a, b"<Enter>', window: { title: '@SUM(A1)', app: 'xterm' } },
    {
      type: 'process.start',
      atMs: 2100,
      pid: 5001,
      ppid: 42,
      name: 'psql',
      path: '/usr/bin/psql',
      commandLine: '-c select 1',
      user: 'root',
    },
    // Enough events for several pages of the export.
    ...Array.from({ length: 2300 }, (_, i) => ({
      type: 'window.focus',
      atMs: 3000 + i,
      title: `+win ${i}`,
      app: 'xterm',
      pid: 42,
    })),
  ];
  for (let at = 0, batch = 0; at < events.length; at += 500, batch++) {
    expect((await postBatch(s, batch, events.slice(at, at + 500))).status).toBe(201);
  }
  return s;
}

describe('activity exports', () => {
  it('activity.csv: every event with offset, grid time and wall clock; formula cells escaped; one audit row', async () => {
    const s = await sessionWithActivity();
    const res = await api(`/sessions/${s.sessionId}/activity.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="witness-${s.sessionId}-activity.csv"`);
    const rows = parseCsv(await res.text());
    const [head, ...body] = rows;
    expect(head?.slice(0, 5)).toEqual(['offsetMs', 'time', 'wallClock', 'type', 'text']);
    expect(body).toHaveLength(2303);
    const column = (name: string) => head?.indexOf(name) ?? -1;
    const [focus, keys, proc] = body;
    expect(focus?.[column('offsetMs')]).toBe('900');
    expect(focus?.[column('time')]).toBe('0:00:00.900');
    expect(focus?.[column('title')]).toBe('\'=HYPERLINK("http://evil.example/","click")');
    expect(keys?.[column('text')]).toBe('echo "a, b"<Enter>');
    expect(keys?.[column('title')]).toBe("'@SUM(A1)");
    expect(proc?.[column('text')]).toBe("'-c select 1");
    expect(body.at(-1)?.[column('title')]).toBe("'+win 2299");
    const session = (await (await api(`/sessions/${s.sessionId}`)).json()) as { startedAt: string | null };
    expect(session.startedAt).not.toBeNull();
    expect(focus?.[column('wallClock')]).toBe(new Date(Date.parse(session.startedAt ?? '') + 900).toISOString());
    // Times in order, as the grid lists them.
    const offsets = body.map((r) => Number(r[column('offsetMs')]));
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    const audited = await exportRows('activity.exported', s.sessionId);
    expect(audited).toHaveLength(1);
    expect(audited[0]?.details).toMatchObject({ file: 'activity.csv' });
  });

  it('activity.json: the activity API’s events with time and wall clock; each download its own audit row', async () => {
    const s = await sessionWithActivity();
    for (let i = 0; i < 2; i++) {
      const res = await api(`/sessions/${s.sessionId}/activity.json`);
      expect(res.status).toBe(200);
      const file = (await res.json()) as {
        session: { id: string; user: string };
        events: Array<{ type: string; offsetMs: number; time: string; title: string | null; text: string | null }>;
      };
      expect(file.session).toMatchObject({ id: s.sessionId, user: 'alice' });
      expect(file.events).toHaveLength(2303);
      expect(file.events[0]).toMatchObject({ type: 'window.focus', offsetMs: 900, time: '0:00:00.900' });
      expect(file.events[0]?.title).toBe('=HYPERLINK("http://evil.example/","click")');
      const page = (await (await api(`/sessions/${s.sessionId}/activity?limit=5`)).json()) as { events: unknown[] };
      expect(
        file.events.slice(0, 5).map(({ time: _t, wallClock: _w, ...rest }: Record<string, unknown>) => rest),
      ).toEqual(page.events);
    }
    expect(await exportRows('activity.exported', s.sessionId)).toHaveLength(2);
  });

  it('answers 404 for an unknown session, a bad id with 400, and audits nothing', async () => {
    const unknown = crypto.randomUUID();
    for (const file of ['activity.csv', 'activity.json', 'transcript.txt']) {
      const res = await api(`/sessions/${unknown}/${file}`);
      expect(res.status, file).toBe(404);
      expect(await errorCode(res)).toBe('session_not_found');
      expect((await api(`/sessions/not-an-id/${file}`)).status).toBe(400);
    }
    expect(await exportRows('activity.exported', unknown)).toHaveLength(0);
  });
});

/** Lines of a .cast recorded by witness-ssh-proxy through bash (bracketed paste, a colour prompt, a password). */
const CAST_HEADER = `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1796300000, env: { TERM: 'xterm-256color' } })}\n`;
const CAST_EVENTS: Array<[number, string, string]> = [
  [0.25, 'o', '\u001b[?2004h\u001b[01;32malice@db-01\u001b[00m:\u001b[01;34m~\u001b[00m$ '],
  [1.1, 'i', 'l'],
  [1.101, 'o', 'l'],
  [1.35, 'i', 's'],
  [1.351, 'o', 's'],
  [2.001, 'i', '\r'],
  [2.012, 'o', '\r\n\u001b[?2004l\r\u001b[0m\u001b[01;34mbackups\u001b[0m  notes.txt\r\n'],
  [2.013, 'o', '\u001b[?2004h\u001b[01;32malice@db-01\u001b[00m:~$ '],
  [3, 'i', 'mysql -p<redacted:password> -e status\r'],
  [3.01, 'o', 'mysql -p<redacted:password> -e status\r\n\u001b[?2004l\r-bash: mysql: command not found\r\n'],
  [3.02, 'o', '\u001b[?2004h$ '],
  [4, 'i', 'exit\r'],
  [4.01, 'o', 'exit\r\n\u001b[?2004l\rlogout\r\n'],
];

describe('transcript.txt', () => {
  it('is the sealed .cast as text: escapes removed, entered lines marked; audited; refused for video', async () => {
    const s = (await launch({ protocol: 'ssh', target: 'db-01' })) as Launched;
    const launcher = await connectLauncher(s);
    const cast = { 'content-type': 'application/x-asciicast' };
    expect(
      (await putPiece(s, 0, encoder.encode(CAST_HEADER), { keyframe: false, startMs: 0, endMs: 0 }, cast)).status,
    ).toBe(201);
    const body = CAST_EVENTS.map((e) => `${JSON.stringify(e)}\n`).join('');
    expect(
      (await putPiece(s, 1, encoder.encode(body), { keyframe: true, startMs: 250, endMs: 4010 }, cast)).status,
    ).toBe(201);
    // Not sealed yet: no transcript.
    expect(await errorCode(await api(`/sessions/${s.sessionId}/transcript.txt`))).toBe('recording_not_ready');
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 1 }));
    await launcher.nextJson();
    await runDurableObjectAlarm(env.SESSIONS.getByName(s.sessionId));

    const res = await api(`/sessions/${s.sessionId}/transcript.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const text = await res.text();
    const [heading, ...rest] = text.split('\n\n');
    expect(heading).toContain(`Witness transcript of session ${s.sessionId}: alice on db-01`);
    expect(rest.join('\n\n')).toBe(
      [
        'alice@db-01:~$ ls',
        '>>> [0:00:01.100] input: ls',
        'backups  notes.txt',
        'alice@db-01:~$ mysql -p<redacted:password> -e status',
        '>>> [0:00:03.000] input: mysql -p<redacted:password> -e status',
        '-bash: mysql: command not found',
        '$ exit',
        '>>> [0:00:04.000] input: exit',
        'logout',
        '',
      ].join('\n'),
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no escape sequence is left
    expect(text).not.toMatch(/\u001b/);
    expect(await exportRows('activity.exported', s.sessionId)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ file: 'transcript.txt' }) }),
    ]);

    const video = await launch();
    const refused = await api(`/sessions/${video.sessionId}/transcript.txt`);
    expect(refused.status).toBe(404);
    expect(await errorCode(refused)).toBe('wrong_format');
  });
});
