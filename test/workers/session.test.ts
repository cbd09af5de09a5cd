import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import type { SessionDO } from '../../durable/session-do.ts';
import { api, connectLauncher, errorCode, hello, launch, openSocket, putFixture, sealNow } from './helpers.ts';

interface SessionView {
  status: string;
  endReason: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  recording: { status: string; pieces: number; missingPieces: unknown[]; url: string | null; error: string | null };
  live: { launcherConnected: boolean; viewers: unknown[] } | null;
}

async function session(id: string): Promise<SessionView> {
  return (await api(`/sessions/${id}`)).json();
}

function stub(id: string) {
  return env.SESSIONS.getByName(id);
}

type Clock =
  | 'startedAt'
  | 'lastActivityAt'
  | 'createdAt'
  | 'launchExpiresAt'
  | 'launcherLostAt'
  | 'lastHeardAt'
  | 'sealAt';

/**
 * Moves the session's clocks `ms` into the past in its storage, then evicts the object so it wakes from
 * storage (hibernated sockets stay connected), as it would after time really passed.
 */
async function age(id: string, ms: number, fields: Clock[]): Promise<Record<string, number | null>> {
  const record = await runInDurableObject(stub(id), async (_instance: SessionDO, state) => {
    const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one();
    const saved = JSON.parse(row.value) as Record<string, number | null>;
    for (const field of fields) saved[field] = (saved[field] ?? Date.now()) - ms;
    state.storage.sql.exec(`UPDATE state SET value = ? WHERE key = 'session'`, JSON.stringify(saved));
    return saved;
  });
  await evictDurableObject(stub(id));
  return record;
}

describe('control socket', () => {
  it('hello starts the session and welcome carries the policy snapshot', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 120_000 } });
    const launcher = await connectLauncher(s);
    expect(launcher.welcome).toMatchObject({
      type: 'welcome',
      protocol: 1,
      sessionId: s.sessionId,
      status: 'active',
      policy: { recordingEnabled: true, inactivityTimeoutMs: 120_000 },
      storedSeqs: [],
    });
    const view = await session(s.sessionId);
    expect(view.status).toBe('active');
    expect(view.startedAt).not.toBeNull();
    expect(view.live?.launcherConnected).toBe(true);
  });

  it('tells a reconnecting launcher which pieces are already stored', async () => {
    const s = await launch();
    await putFixture(s, 0);
    await putFixture(s, 2);
    const launcher = await connectLauncher(s);
    expect(launcher.welcome.storedSeqs).toEqual([0, 2]);
  });

  it('answers heartbeats without involving the object', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    launcher.ws.send('ping');
    expect(await launcher.next()).toBe('pong');
  });

  it.each([
    ['not JSON', '{nope', 'invalid_message'],
    ['an unknown type', JSON.stringify({ type: 'format-disk' }), 'invalid_message'],
    ['a hello with extra fields', JSON.stringify({ type: 'end', lastSeq: 1, admin: true }), 'invalid_message'],
    ['binary data', new Uint8Array([1, 2, 3]), 'invalid_message'],
  ])('answers %s with an error and keeps serving', async (_name, message, code) => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    launcher.ws.send(message);
    expect(await launcher.nextJson()).toMatchObject({ type: 'error', code });
    launcher.ws.send(JSON.stringify({ type: 'renew' }));
    expect(await launcher.nextJson()).toMatchObject({ type: 'token' });
    expect((await session(s.sessionId)).status).toBe('active');
  });

  it('wants hello before anything else', async () => {
    const s = await launch();
    const socket = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
    socket.ws.send(JSON.stringify({ type: 'activity' }));
    expect(await socket.nextJson()).toMatchObject({ type: 'error', code: 'hello_first' });
  });

  it('closes a launcher that speaks another protocol version', async () => {
    const s = await launch();
    const socket = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
    socket.ws.send(hello().replace('"protocol":1', '"protocol":2'));
    expect(await socket.nextJson()).toMatchObject({ type: 'error', code: 'unsupported_protocol' });
    expect((await socket.closed).code).toBe(4003);
  });

  it('renews the ingest token for this session only', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    launcher.ws.send(JSON.stringify({ type: 'renew' }));
    const renewed = await launcher.nextJson<{ token: string; expiresAt: string }>();
    expect(renewed.token.startsWith(`wt1.${s.sessionId}.`)).toBe(true);
    expect((await putFixture({ sessionId: s.sessionId, token: renewed.token }, 0)).status).toBe(201);
  });

  it('refuses a plain HTTP request with 426 and a socket without a token with 401', async () => {
    const s = await launch();
    const plain = await api(`/sessions/${s.sessionId}/live`);
    expect(plain.status).toBe(426);
    const res = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, 'nope').catch((e: Error) => e);
    expect(res).toBeInstanceOf(Error);
    expect(String(res)).toContain('401');
  });

  it('a newer connection replaces the older one', async () => {
    const s = await launch();
    const first = await connectLauncher(s);
    await connectLauncher(s);
    expect((await first.closed).code).toBe(4001);
    expect((await session(s.sessionId)).status).toBe('active');
  });
});

describe('ending a session', () => {
  it('the launcher ends it: sealed once every declared piece is in', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    for (let seq = 0; seq <= 4; seq++) await putFixture(s, seq);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 4 }));
    expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'ended_by_user' });
    expect(await runDurableObjectAlarm(stub(s.sessionId))).toBe(true);
    expect((await launcher.closed).code).toBe(4000);
    const view = await session(s.sessionId);
    expect(view).toMatchObject({ status: 'ended', endReason: 'ended_by_user' });
    expect(view.recording).toMatchObject({ status: 'ready', pieces: 5, missingPieces: [] });
    expect(view.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('late pieces are still accepted until the recording is sealed, then refused', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    await putFixture(s, 0);
    await putFixture(s, 1);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 3 }));
    await launcher.nextJson();
    expect((await putFixture(s, 2)).status).toBe(201);
    expect((await putFixture(s, 3)).status).toBe(201);
    expect(await runDurableObjectAlarm(stub(s.sessionId))).toBe(true);
    const res = await putFixture(s, 3);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('recording_sealed');
    const beyond = await putFixture(s, 4);
    expect(beyond.status).toBe(409);
    expect((await session(s.sessionId)).recording).toMatchObject({ status: 'ready', pieces: 4 });
  });

  it('records the missing pieces when the recording is sealed with a hole', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    for (const seq of [0, 1, 3, 4]) await putFixture(s, seq);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 5 }));
    await launcher.nextJson();
    // Pieces 2 and 5 may still come: the recording waits out the grace period before sealing.
    await runDurableObjectAlarm(stub(s.sessionId));
    expect((await session(s.sessionId)).recording.status).toBe('finalizing');
    await age(s.sessionId, 31_000, ['sealAt']);
    await runDurableObjectAlarm(stub(s.sessionId));
    const view = await session(s.sessionId);
    expect(view.recording.status).toBe('ready');
    expect(view.recording.missingPieces).toEqual([
      { from: 2, to: 2 },
      { from: 5, to: 5 },
    ]);
  });

  it('inactivity timeout ends the session', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 60_000, maxSessionLengthMs: 3_600_000 } });
    const launcher = await connectLauncher(s);
    await age(s.sessionId, 61_000, ['startedAt', 'lastActivityAt']);
    expect(await runDurableObjectAlarm(stub(s.sessionId))).toBe(true);
    expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'inactivity_timeout' });
    expect(await session(s.sessionId)).toMatchObject({ status: 'ended', endReason: 'inactivity_timeout' });
  });

  it('activity moves the inactivity deadline; an early alarm only re-arms', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 60_000, maxSessionLengthMs: 0 } });
    const launcher = await connectLauncher(s);
    await age(s.sessionId, 50_000, ['startedAt', 'lastActivityAt']);
    launcher.ws.send(JSON.stringify({ type: 'activity' }));
    launcher.ws.send('ping');
    await launcher.next();
    await runDurableObjectAlarm(stub(s.sessionId));
    expect((await session(s.sessionId)).status).toBe('active');
    const alarm = await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm());
    // The new end is a minute from now; the alarm is set for its warning, half a minute before it.
    expect(alarm).toBeGreaterThan(Date.now() + 25_000);
    expect(alarm).toBeLessThan(Date.now() + 60_000);
  });

  it('warns the user a minute before an inactivity timeout or the maximum length, once, the way admin messages go', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 600_000, maxSessionLengthMs: 3_600_000 } });
    const launcher = await connectLauncher(s);
    await age(s.sessionId, 541_000, ['startedAt', 'lastActivityAt']);
    expect(await runDurableObjectAlarm(stub(s.sessionId))).toBe(true);
    const warning = await launcher.nextJson();
    expect(warning).toMatchObject({ type: 'message', id: expect.any(String) });
    expect(warning.text).toMatch(/will end in (59|60) s because of inactivity/);
    expect((await session(s.sessionId)).status).toBe('active');
    // The next alarm is the end itself, not the same warning again.
    const alarm = await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 50_000);
    await age(s.sessionId, 3_000_000, ['startedAt']);
    expect(await runDurableObjectAlarm(stub(s.sessionId))).toBe(true);
    expect((await launcher.nextJson()).text).toMatch(/maximum length and will end in/);
  });

  it('maximum session length ends the session even while active, and wins over a later deadline', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 600_000, maxSessionLengthMs: 120_000 } });
    const launcher = await connectLauncher(s);
    await age(s.sessionId, 121_000, ['startedAt']);
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'maximum_length' });
    expect((await session(s.sessionId)).endReason).toBe('maximum_length');
  });

  it('keeps one alarm at the earliest deadline', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 300_000, maxSessionLengthMs: 120_000 } });
    const launcher = await connectLauncher(s);
    // The earliest is the check that the launcher is still heard from (LAUNCHER_GRACE_SECONDS after hello).
    const alarm = await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 50_000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 60_000);
    // Once it is past (the launcher's heartbeats answered meanwhile), the next is the maximum length.
    await age(s.sessionId, 61_000, ['startedAt', 'lastActivityAt', 'lastHeardAt']);
    launcher.ws.send('ping');
    expect(await launcher.next()).toBe('pong');
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'active' });
    const next = await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm());
    expect(next).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('a launcher that vanishes is given a grace period, then the session ends as launcher lost', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    launcher.ws.close(1001, 'gone');
    await expect
      .poll(async () => runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm()), {
        timeout: 5000,
      })
      .toBeLessThan(Date.now() + 61_000);
    const record = await age(s.sessionId, 61_000, ['launcherLostAt']);
    expect(record.launcherLostAt).toBeLessThan(Date.now());
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'ended', endReason: 'launcher_lost' });
  });

  it('a launcher that falls silent with its socket still open (no close is ever seen) is lost after the grace', async () => {
    // What a crash of the server, or of the launcher's host and network, leaves behind: no close event at all.
    const s = await launch({ policy: { inactivityTimeoutMs: 0, maxSessionLengthMs: 0 } });
    const launcher = await connectLauncher(s);
    for (const seq of [0, 1, 2]) expect((await putFixture(s, seq)).status).toBe(201);
    // Not yet: an alarm before the grace has passed changes nothing.
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'active' });
    await age(s.sessionId, 61_000, ['lastHeardAt']);
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'ended', endReason: 'launcher_lost' });
    expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'launcher_lost' });
    // …and it is sealed after the seal grace, like any other ending.
    await sealNow(s.sessionId);
    expect((await session(s.sessionId)).recording).toMatchObject({ status: 'ready', pieces: 3 });
  });

  it('a launcher whose heartbeats are answered is not lost, though nothing else is heard from it', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 0, maxSessionLengthMs: 0 } });
    const launcher = await connectLauncher(s);
    await age(s.sessionId, 61_000, ['lastHeardAt']);
    launcher.ws.send('ping'); // answered by the runtime, the object stays asleep
    expect(await launcher.next()).toBe('pong');
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'active' });
    // The check is set again, one grace period on.
    const alarm = await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 50_000);
  });

  it('a launch nobody uses expires', async () => {
    const s = await launch();
    await age(s.sessionId, 901_000, ['launchExpiresAt']);
    await runDurableObjectAlarm(stub(s.sessionId));
    expect(await session(s.sessionId)).toMatchObject({ status: 'ended', endReason: 'launch_expired' });
  });
});

describe('terminate and message', () => {
  it('delivers a message to the launcher and reports that it was shown', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const pending = api(`/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'message', message: 'Please save your work.' }),
    });
    const message = await launcher.nextJson<{ type: string; id: string; text: string }>();
    expect(message).toMatchObject({ type: 'message', text: 'Please save your work.' });
    launcher.ws.send(JSON.stringify({ type: 'delivered', id: message.id }));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ delivered: true, status: 'active', endReason: null });
    expect((await session(s.sessionId)).status).toBe('active');
  });

  it('terminate sends the message, ends the session and the launcher is told', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const pending = api(`/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: 'Policy violation.' }),
    });
    const command = await launcher.nextJson<{ type: string; id: string; message: string }>();
    expect(command).toMatchObject({ type: 'terminate', message: 'Policy violation.' });
    launcher.ws.send(JSON.stringify({ type: 'delivered', id: command.id }));
    expect(await (await pending).json()).toEqual({
      delivered: true,
      status: 'ended',
      endReason: 'terminated_by_admin',
    });
    expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'terminated_by_admin' });
    expect(await session(s.sessionId)).toMatchObject({ status: 'ended', endReason: 'terminated_by_admin' });
  });

  it('terminate works with recording off, and with no launcher connected', async () => {
    const off = await launch({ policy: { recordingEnabled: false } });
    const launcher = await connectLauncher(off);
    const pending = api(`/sessions/${off.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate' }),
    });
    const command = await launcher.nextJson<{ id: string; message: string }>();
    expect(command.message).toContain('terminated');
    launcher.ws.send(JSON.stringify({ type: 'delivered', id: command.id }));
    expect((await pending).status).toBe(200);
    expect((await launcher.closed).code).toBe(4000);
    expect((await session(off.sessionId)).recording.status).toBe('disabled');

    const lonely = await launch();
    const res = await api(`/sessions/${lonely.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate' }),
    });
    expect(await res.json()).toEqual({ delivered: false, status: 'ended', endReason: 'terminated_by_admin' });
  });

  it.each([
    ['an empty message', { mode: 'message', message: '  ' }, 400],
    ['an unknown mode', { mode: 'explode', message: 'x' }, 400],
    ['a huge message', { mode: 'message', message: 'x'.repeat(1001) }, 400],
  ])('refuses %s', async (_name, body, status) => {
    const s = await launch();
    const res = await api(`/sessions/${s.sessionId}/terminate`, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(status);
  });

  it('refuses to terminate an ended or unknown session', async () => {
    const s = await launch();
    await api(`/sessions/${s.sessionId}/terminate`, { method: 'POST', body: JSON.stringify({ mode: 'terminate' }) });
    const again = await api(`/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate' }),
    });
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe('session_ended');
    const unknown = await api(`/sessions/${crypto.randomUUID()}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate' }),
    });
    expect(unknown.status).toBe(404);
  });
});

describe('the stored record', () => {
  /** Rewrites the stored record with `change`, then evicts the object so it wakes from storage. */
  async function rewrite(id: string, change: (record: Record<string, unknown>) => Record<string, unknown>) {
    await runInDurableObject(stub(id), async (_instance: SessionDO, state) => {
      const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one();
      const changed = change(JSON.parse(row.value) as Record<string, unknown>);
      state.storage.sql.exec(`UPDATE state SET value = ? WHERE key = 'session'`, JSON.stringify(changed));
    });
    await evictDurableObject(stub(id));
  }

  function stored(id: string): Promise<string> {
    return runInDurableObject(
      stub(id),
      async (_instance: SessionDO, state) =>
        state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one().value,
    );
  }

  it('a session whose record has the shape of before versions goes on, and is saved in the current one', async () => {
    const s = await launch();
    await connectLauncher(s);
    expect((await putFixture(s, 0)).status).toBe(201);
    await rewrite(
      s.sessionId,
      ({ version: _v, format: _f, lastHeardAt: _h, endpoints: _e, warnedFor: _w, ...v1 }) => v1,
    );
    expect((await putFixture(s, 1)).status).toBe(201);
    const view = await session(s.sessionId);
    expect(view.status).toBe('active');
    expect(view.recording.pieces).toBe(2);
    expect(JSON.parse(await stored(s.sessionId))).toMatchObject({ version: 3, format: 'webm' });
  });

  it('a record that fails validation is refused loudly, and left as it was', async () => {
    const s = await launch();
    await connectLauncher(s);
    await rewrite(s.sessionId, (record) => ({ ...record, status: 'paused' }));
    const before = await stored(s.sessionId);
    const piece = await putFixture(s, 0);
    expect(piece.status).toBe(500);
    expect(await errorCode(piece)).toBe('internal_error');
    expect(await stored(s.sessionId)).toBe(before);
  });
});

describe('where a session was recorded from', () => {
  function endpointsInD1(id: string) {
    return env.DB.prepare('SELECT endpoints FROM sessions WHERE id = ?1')
      .bind(id)
      .first<{ endpoints: string | null }>()
      .then((row) => (row?.endpoints ? JSON.parse(row.endpoints) : null));
  }

  it("records the launcher's host and the SSH client from its hello, and the address the socket came from", async () => {
    const s = await launch();
    const socket = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, {
      authorization: `Bearer ${s.token}`,
      'cf-connecting-ip': '198.51.100.4',
    });
    const greeting = JSON.parse(hello()) as Record<string, unknown>;
    socket.ws.send(
      JSON.stringify({
        ...greeting,
        host: { name: 'jump-1.example.com', addresses: ['10.1.2.3', '2001:db8::7'] },
        client: { address: '203.0.113.50', port: 50122 },
      }),
    );
    expect(await socket.nextJson()).toMatchObject({ type: 'welcome' });
    await vi.waitFor(async () =>
      expect(await endpointsInD1(s.sessionId)).toEqual({
        host: { name: 'jump-1.example.com', addresses: ['10.1.2.3', '2001:db8::7'] },
        client: { address: '203.0.113.50', port: 50122 },
        seenFrom: '198.51.100.4',
      }),
    );
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { endpoints: unknown };
    expect(view.endpoints).toEqual({
      host: { name: 'jump-1.example.com', addresses: ['10.1.2.3', '2001:db8::7'] },
      client: { address: '203.0.113.50', port: 50122 },
      seenFrom: '198.51.100.4',
    });
  });

  it('refuses a hello whose host name carries control characters or whose client is not an address', async () => {
    const s = await launch();
    for (const extra of [
      { host: { name: 'evil\u001b[2Jhost', addresses: [] } },
      { client: { address: 'not-an-address', port: 22 } },
    ]) {
      const socket = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
      socket.ws.send(JSON.stringify({ ...(JSON.parse(hello()) as object), ...extra }));
      expect(await socket.nextJson()).toMatchObject({ type: 'error', code: 'invalid_message' });
    }
    expect(await endpointsInD1(s.sessionId)).toBeNull();
  });
});
