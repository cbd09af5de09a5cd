/** SSH sessions: asciicast v2 pieces through ingest, live viewers, sealing into recording.cast, evidence. */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { parseCast } from '../../protocol/asciicast.ts';
import { decodeMediaFrame } from '../../protocol/viewer.ts';
import {
  API_KEY,
  api,
  connectLauncher,
  errorCode,
  type Launched,
  launch,
  openSocket,
  pieceObjects,
  putPiece,
  request,
} from './helpers.ts';

const CAST = 'application/x-asciicast';
const encoder = new TextEncoder();

const header = `${JSON.stringify({ version: 2, width: 80, height: 24, env: { TERM: 'xterm-256color' } })}\n`;
const lines = (...events: Array<[number, string, string]>) => events.map((e) => `${JSON.stringify(e)}\n`).join('');

/** The pieces an SSH proxy would send for `ls` typed and answered. */
const PIECES: Array<{ text: string; startMs: number; endMs: number }> = [
  { text: header, startMs: 0, endMs: 0 },
  { text: lines([0.25, 'o', 'alice@db-01:~$ ']), startMs: 250, endMs: 250 },
  { text: lines([1.1, 'i', 'l'], [1.1, 'o', 'l'], [1.35, 'i', 's'], [1.35, 'o', 's']), startMs: 1100, endMs: 1350 },
  // 2.001 s is 2000.9999999999998 ms in binary floating point: the server still reads 2001 ms.
  {
    text: lines([2.001, 'i', '\r'], [2.012, 'o', '\r\nnotes.txt  backup.tar\r\n'], [2.0125, 'r', '100x30']),
    startMs: 2001,
    endMs: 2013,
  },
];

function putCast(s: Launched, seq: number, text: string, span = { startMs: 0, endMs: 0 }, type = CAST) {
  return putPiece(s, seq, encoder.encode(text), { keyframe: seq > 0, ...span }, { 'content-type': type });
}

async function sshSession(): Promise<Launched & { format: string }> {
  const s = (await launch({ protocol: 'ssh', target: 'db-01' })) as Launched & { format: string };
  return s;
}

describe('SSH sessions record asciicast v2', () => {
  it('launch: protocol ssh records a terminal log, and the welcome names the target', async () => {
    const s = await sshSession();
    expect(s.format).toBe('asciicast');
    const launcher = await connectLauncher(s);
    expect(launcher.welcome.session).toEqual({ user: 'alice', target: 'db-01', protocol: 'ssh', format: 'asciicast' });
    const desktop = (await launch()) as Launched & { format: string };
    expect(desktop.format).toBe('webm');
    const session = (await (await api(`/sessions/${s.sessionId}`)).json()) as { format: string };
    expect(session.format).toBe('asciicast');
  });

  it('stores well-formed pieces and refuses malformed ones with not_asciicast, storing nothing', async () => {
    const s = await sshSession();
    await connectLauncher(s);
    const bad: Array<[number, string, { startMs: number; endMs: number }, string]> = [
      [0, '{"version": 1, "width": 80, "height": 24}\n', { startMs: 0, endMs: 0 }, 'version 1 header'],
      [0, `${header}${header}`, { startMs: 0, endMs: 0 }, 'two header lines'],
      [0, header.trimEnd(), { startMs: 0, endMs: 0 }, 'no final newline'],
      [1, '[0.25, "o", "x"]\nnot json\n', { startMs: 250, endMs: 250 }, 'a line that is not JSON'],
      [1, '[0.25, "x", "hello"]\n', { startMs: 250, endMs: 250 }, 'an unknown event code'],
      [1, lines([2, 'o', 'a'], [1, 'o', 'b']), { startMs: 1000, endMs: 2000 }, 'time going back'],
      [1, lines([1, 'r', 'wide']), { startMs: 1000, endMs: 1000 }, 'a malformed resize'],
      [1, '\n', { startMs: 0, endMs: 0 }, 'an empty line'],
    ];
    for (const [seq, text, span, why] of bad) {
      const res = await putCast(s, seq, text, span);
      expect(res.status, why).toBe(422);
      expect(await errorCode(res), why).toBe('not_asciicast');
      expect(await pieceObjects(s.sessionId, seq), why).toEqual([]);
    }
    // Invalid UTF-8 is refused, not mangled into U+FFFD.
    const invalid = new Uint8Array([...encoder.encode('[1, "o", "'), 0xff, 0xfe, ...encoder.encode('"]\n')]);
    const res = await putPiece(s, 1, invalid, { keyframe: true, startMs: 1000, endMs: 1000 }, { 'content-type': CAST });
    expect(res.status).toBe(422);

    // A WebM body (or type) for a terminal session is refused as the wrong media type.
    const webm = await putCast(s, 1, PIECES[1]!.text, PIECES[1]!, 'video/webm');
    expect(webm.status).toBe(415);
    expect(((await webm.json()) as { error: { message: string } }).error.message).toContain('application/x-asciicast');

    // Too large for a cast piece (1 MiB), refused before anything is stored.
    const big = `[1, "o", "${'x'.repeat(1024 * 1024)}"]\n`;
    expect((await putCast(s, 5, big, { startMs: 1000, endMs: 1000 })).status).toBe(413);

    // After all that, the seqs are free: the good pieces go in, and a retry is a duplicate.
    for (const [seq, piece] of PIECES.entries()) expect((await putCast(s, seq, piece.text, piece)).status).toBe(201);
    const retry = await putCast(s, 2, PIECES[2]!.text, PIECES[2]!);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ duplicate: true });
    const other = await putCast(s, 2, lines([1.2, 'o', 'rm -rf /']), { startMs: 1200, endMs: 1200 });
    expect(other.status).toBe(409);
    expect(await errorCode(other)).toBe('seq_conflict');
  });

  it('a desktop session refuses asciicast pieces', async () => {
    const s = await launch();
    await connectLauncher(s);
    const res = await putCast(s, 0, header);
    expect(res.status).toBe(415);
    expect(await errorCode(res)).toBe('unsupported_media_type');
  });

  it('a viewer joining mid-session gets the whole terminal history, then each new piece', async () => {
    const s = await sshSession();
    await connectLauncher(s);
    for (const seq of [0, 1, 2]) await putCast(s, seq, PIECES[seq]!.text, PIECES[seq]!);
    const viewer = await openSocket(`/api/v1/sessions/${s.sessionId}/live`, API_KEY);
    expect(await viewer.nextJson()).toMatchObject({ type: 'hello' });
    const received: Array<{ seq: number; text: string }> = [];
    const decoder = new TextDecoder();
    while (received.length < 4) {
      const frame = await viewer.next();
      if (typeof frame === 'string') continue;
      const { header: h, media } = decodeMediaFrame(new Uint8Array(frame));
      received.push({ seq: h.seq, text: decoder.decode(media) });
      if (received.length === 3) await putCast(s, 3, PIECES[3]!.text, PIECES[3]!);
    }
    expect(received).toEqual(PIECES.map((p, seq) => ({ seq, text: p.text })));
  });

  it('a joining viewer gets the newest few MiB of a long terminal history, told what it missed', async () => {
    const s = await sshSession();
    await connectLauncher(s);
    await putCast(s, 0, header);
    const big = (t: number) => lines([t, 'o', 'x'.repeat(1000 * 1000)]);
    for (let seq = 1; seq <= 6; seq++) await putCast(s, seq, big(seq), { startMs: seq * 1000, endMs: seq * 1000 });
    const viewer = await openSocket(`/api/v1/sessions/${s.sessionId}/live`, API_KEY);
    const frames: Array<number | string> = [];
    while (frames.filter((f) => typeof f === 'number').length < 5) {
      const frame = await viewer.next();
      if (typeof frame === 'string') {
        const message = JSON.parse(frame) as { type: string; fromSeq?: number; toSeq?: number };
        if (message.type === 'gap') frames.push(`gap ${message.fromSeq}-${message.toSeq}`);
      } else {
        frames.push(decodeMediaFrame(new Uint8Array(frame)).header.seq);
      }
    }
    // The header, then a gap for 1–2, then the newest 4 MiB (pieces 3–6), in order.
    expect(frames).toEqual([0, 'gap 1-2', 3, 4, 5, 6]);
  });

  it('seals into recording.cast: the pieces back to back, a valid asciicast v2 file; evidence pieces are .cast', async () => {
    const s = await sshSession();
    const launcher = await connectLauncher(s);
    for (const seq of [1, 0, 2]) await putCast(s, seq, PIECES[seq]!.text, PIECES[seq]!);
    // A terminal log's times come from its lines: headers that overstate them change nothing.
    expect((await putCast(s, 3, PIECES[3]!.text, { startMs: 0, endMs: 999_999 })).status).toBe(201);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 3 }));
    await launcher.nextJson();
    await runDurableObjectAlarm(env.SESSIONS.getByName(s.sessionId));

    const session = (await (await api(`/sessions/${s.sessionId}`)).json()) as { recording: Record<string, unknown> };
    expect(session.recording).toMatchObject({
      status: 'ready',
      url: `/api/v1/sessions/${s.sessionId}/recording.cast`,
      mediaDurationMs: 2013,
      missingPieces: [],
    });
    const res = await api(`/sessions/${s.sessionId}/recording.cast`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(CAST);
    const text = await res.text();
    expect(text).toBe(PIECES.map((p) => p.text).join(''));
    const cast = parseCast(text);
    expect(cast.header).toMatchObject({ version: 2, width: 80, height: 24 });
    const output = cast.events.filter(([, code]) => code === 'o').map(([, , data]) => data);
    expect(output.join('')).toBe('alice@db-01:~$ ls\r\nnotes.txt  backup.tar\r\n');

    const range = await api(`/sessions/${s.sessionId}/recording.cast`, { headers: { range: 'bytes=0-9' } });
    expect(range.status).toBe(206);
    expect(await range.text()).toBe(text.slice(0, 10));

    const webm = await api(`/sessions/${s.sessionId}/recording.webm`);
    expect(webm.status).toBe(404);
    expect(await errorCode(webm)).toBe('wrong_format');

    const piece = await api(`/sessions/${s.sessionId}/pieces/2.cast`);
    expect(piece.status).toBe(200);
    expect(piece.headers.get('content-type')).toBe(CAST);
    expect(await piece.text()).toBe(PIECES[2]!.text);
    expect(await errorCode(await api(`/sessions/${s.sessionId}/pieces/2.webm`))).toBe('piece_not_found');

    const manifest = (await (await api(`/sessions/${s.sessionId}/manifest`)).json()) as {
      manifest: { recording: { key: string } };
    };
    expect(manifest.manifest.recording.key).toBe(`sessions/${s.sessionId}/recording.cast`);
  });
});

describe('secrets redacted in a terminal recording', () => {
  it('counts the markers in its pieces in the session record, once per piece however often it is sent', async () => {
    const s = await sshSession();
    await connectLauncher(s);
    expect((await putCast(s, 0, header)).status).toBe(201);
    const typed = lines(
      [1, 'i', 'mysql -p<redacted:password>\r'],
      [1.01, 'o', 'mysql -p<redacted:password>\r\n'],
      [1.2, 'i', 'export API_TOKEN=<redacted:secret-assignment>\r'],
    );
    const span = { startMs: 1000, endMs: 1200 };
    expect((await putCast(s, 1, typed, span)).status).toBe(201);
    expect((await putCast(s, 1, typed, span)).status).toBe(200);
    expect((await putCast(s, 2, lines([2, 'o', 'no secret here\r\n']), { startMs: 2000, endMs: 2000 })).status).toBe(
      201,
    );
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as Record<string, unknown>;
    expect(view.recordingRedactions).toEqual({ password: 2, 'secret-assignment': 1 });
    expect(view.redactions).toEqual({});
  });
});

describe('SSH activity', () => {
  it('stores commands and file transfers, found by the search in=ssh', async () => {
    const s = await sshSession();
    await connectLauncher(s);
    await putCast(s, 0, header);
    await putCast(s, 1, lines([30, 'o', '$ ']), { startMs: 30000, endMs: 30000 });
    const batch = {
      events: [
        { type: 'ssh.input', atMs: 1000, endMs: 2000, text: 'pg_dump customers<Enter>' },
        { type: 'ssh.command', atMs: 2000, text: 'pg_dump customers' },
        {
          type: 'file.transfer',
          atMs: 5000,
          endMs: 6500,
          direction: 'download',
          path: '/var/backups/customers-2026.sql',
          size: 123456,
          protocol: 'sftp',
        },
        {
          type: 'file.transfer',
          atMs: 7000,
          endMs: 7000,
          direction: 'sideways',
          path: '/x',
          size: 1,
          protocol: 'sftp',
        },
      ],
    };
    const res = await request(`/ingest/v1/sessions/${s.sessionId}/events/0`, {
      method: 'POST',
      body: JSON.stringify(batch),
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    const ack = (await res.json()) as { stored: number; rejected: Array<{ index: number }> };
    expect(ack.stored).toBe(3);
    expect(ack.rejected.map((r) => r.index)).toEqual([3]);

    const events = (await (await api(`/sessions/${s.sessionId}/activity?type=file.transfer`)).json()) as {
      events: Array<Record<string, unknown>>;
    };
    expect(events.events).toEqual([
      expect.objectContaining({
        type: 'file.transfer',
        offsetMs: 5000,
        endMs: 6500,
        path: '/var/backups/customers-2026.sql',
        name: 'customers-2026.sql',
        title: 'download',
        app: 'sftp',
        size: 123456,
      }),
    ]);

    const density = (await (await api(`/sessions/${s.sessionId}/activity/density?buckets=3`)).json()) as {
      buckets: Array<{ keystrokes: number; processEvents: number }>;
    };
    expect(density.buckets.reduce((n, b) => n + b.processEvents, 0)).toBe(2); // the command and the transfer
    expect(density.buckets.reduce((n, b) => n + b.keystrokes, 0)).toBe('pg_dump customers<Enter>'.length);

    const found = (await (await api('/sessions?q=pg_dump&in=ssh')).json()) as {
      sessions: Array<{ id: string; matches: Array<{ type: string; offsetMs: number }> }>;
    };
    const mine = found.sessions.find((x) => x.id === s.sessionId);
    expect(mine?.matches.map((m) => [m.type, m.offsetMs])).toEqual(
      expect.arrayContaining([
        ['ssh.input', 1000],
        ['ssh.command', 2000],
      ]),
    );

    // A transferred file is found as SSH activity, not as a process or an app.
    const transfer = (await (await api('/sessions?q=customers-2026&in=ssh')).json()) as {
      sessions: Array<{ id: string; matches: Array<{ type: string; offsetMs: number }> }>;
    };
    expect(transfer.sessions.find((x) => x.id === s.sessionId)?.matches).toEqual([
      expect.objectContaining({ type: 'file.transfer', offsetMs: 5000 }),
    ]);
    const elsewhere = (await (await api('/sessions?q=customers-2026&in=processes,apps,windows')).json()) as {
      sessions: Array<{ id: string }>;
    };
    expect(elsewhere.sessions.map((x) => x.id)).not.toContain(s.sessionId);
  });

  it('refuses SSH input when the policy turns keystroke recording off', async () => {
    const s = (await launch({ protocol: 'ssh', policy: { keystrokesEnabled: false } })) as Launched;
    await connectLauncher(s);
    const res = await request(`/ingest/v1/sessions/${s.sessionId}/events/0`, {
      method: 'POST',
      body: JSON.stringify({ events: [{ type: 'ssh.input', atMs: 0, endMs: 10, text: 'secret' }] }),
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    });
    const ack = (await res.json()) as { stored: number; rejected: Array<{ reason: string }> };
    expect(ack.stored).toBe(0);
    expect(ack.rejected[0]?.reason).toContain('keystroke recording is off');
    const command = await request(`/ingest/v1/sessions/${s.sessionId}/events/1`, {
      method: 'POST',
      body: JSON.stringify({ events: [{ type: 'ssh.command', atMs: 0, text: 'mysql -psecret' }] }),
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    });
    expect(((await command.json()) as { stored: number }).stored).toBe(0);

    // The terminal log too: a piece holding what the user typed is refused whole, and nothing of it stored.
    expect((await putCast(s, 0, header)).status).toBe(201);
    const typed = await putCast(s, 1, lines([0.5, 'o', '$ '], [1, 'i', 'mysql -psecret\r'], [1.2, 'o', 'ok\r\n']));
    expect(typed.status).toBe(422);
    expect(await errorCode(typed)).toBe('not_asciicast');
    expect(await pieceObjects(s.sessionId, 1)).toEqual([]);
    // Output alone is recorded, under the same number (the refusal gave it back).
    expect((await putCast(s, 1, lines([0.5, 'o', '$ '], [1.2, 'o', 'ok\r\n']))).status).toBe(201);
  });
});
