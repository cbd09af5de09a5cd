/**
 * Adversarial sockets: floods, oversized frames and heartbeat storms against a session's viewer and control
 * sockets (worker/socket-relay.ts, durable/activity-saves.ts). Every wait is for a condition: a reply, a close,
 * an audit row.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { SessionDO } from '../../durable/session-do.ts';
import { FRAME_LIMITS } from '../../protocol/frame-budget.ts';
import { ROLES } from '../../protocol/permissions.ts';
import { CloseCode } from '../../protocol/version.ts';
import {
  API_KEY,
  api,
  connectLauncher,
  hello,
  type Launched,
  launch,
  openSocket,
  putFixture,
  request,
  type TestSocket,
} from './helpers.ts';

const FLOOD = 10_000;
/** SOCKET_LIMITER in wrangler.jsonc. */
const SOCKET_UPGRADES_PER_MINUTE = 20;

interface AuditRow {
  actorKind: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetId: string;
  details: { role: string; reason: string; closeCode: number; frames: number; bytes: number };
}

/** The flood-close rows of a session, once at least `count` are there (the object writes them in the background). */
async function floodRows(sessionId: string, count = 1): Promise<AuditRow[]> {
  let entries: AuditRow[] = [];
  await expect
    .poll(
      async () => {
        const res = await api(`/audit?action=socket.closed_for_flood&target=${sessionId}`);
        entries = ((await res.json()) as { entries: AuditRow[] }).entries;
        return entries.length;
      },
      { timeout: 10_000 },
    )
    .toBeGreaterThanOrEqual(count);
  return entries;
}

/** Counts the text frames a socket receives from now on, by `type` (`pong` for heartbeat answers). */
function countReplies(socket: TestSocket): Map<string, number> {
  const counts = new Map<string, number>();
  socket.ws.addEventListener('message', (event) => {
    const data = event.data;
    const type =
      typeof data !== 'string' ? 'media' : data === 'pong' ? 'pong' : (JSON.parse(data) as { type: string }).type;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  });
  return counts;
}

/** A console user with the Monitor role (Watch Live), signed in, past the first-login password change. */
async function monitorUser(): Promise<{ name: string; cookie: string }> {
  const name = `monitor-${crypto.randomUUID().slice(0, 8)}`;
  const password = 'a-long-enough-password-1';
  const created = await api('/users', {
    method: 'POST',
    body: JSON.stringify({ username: name, password, permissions: ROLES.monitor }),
  });
  expect(created.status).toBe(201);
  const signedIn = await request('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': `10.9.${Math.floor(Math.random() * 250)}.1` },
    body: JSON.stringify({ username: name, password }),
  });
  expect(signedIn.status).toBe(200);
  const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrfToken } = (await signedIn.json()) as { csrfToken: string };
  const changed = await request('/api/v1/auth/password', {
    method: 'POST',
    headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
    body: JSON.stringify({ currentPassword: password, newPassword: `${password}-changed` }),
  });
  expect(changed.status).toBe(200);
  return { name, cookie };
}

/** Reads frames until one of the kind wanted arrives (`media`, `pong`, or a JSON `type`). */
async function until(socket: TestSocket, kind: string): Promise<void> {
  for (;;) {
    const frame = await socket.next();
    const got =
      typeof frame !== 'string' ? 'media' : frame === 'pong' ? 'pong' : (JSON.parse(frame) as { type: string }).type;
    if (got === kind) return;
  }
}

async function watch(sessionId: string, auth: string | Record<string, string> = API_KEY): Promise<TestSocket> {
  const viewer = await openSocket(`/api/v1/sessions/${sessionId}/live`, auth);
  expect(await viewer.nextJson()).toMatchObject({ type: 'hello', sessionId });
  return viewer;
}

async function controlSocket(s: Launched): Promise<TestSocket> {
  return openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
}

function flood(socket: TestSocket, frame: string | Uint8Array, count = FLOOD): void {
  for (let i = 0; i < count; i++) {
    try {
      socket.ws.send(frame);
    } catch {
      return; // closed under the flood: the rest has nowhere to go
    }
  }
}

/** The session's record as stored (not as the live object holds it in memory). */
function storedRecord(sessionId: string): Promise<{ lastActivityAt: number | null }> {
  return runInDurableObject(env.SESSIONS.getByName(sessionId), (_i: SessionDO, state) =>
    JSON.parse(state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one().value),
  );
}

describe('viewer sockets', () => {
  it('a Monitor flooding 10,000 one-byte frames is closed with 4008, answered a handful of times, and audited', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    expect((await putFixture(s, 0)).status).toBe(201);
    const user = await monitorUser();
    const viewer = await watch(s.sessionId, { cookie: user.cookie });
    const replies = countReplies(viewer);
    flood(viewer, 'x');
    expect((await viewer.closed).code).toBe(CloseCode.rateLimited);
    // Errors only for the frames within the budget, none per flooding frame after it.
    expect(replies.get('error') ?? 0).toBeLessThanOrEqual(FRAME_LIMITS.viewer.burst);
    const total = [...replies.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(FRAME_LIMITS.viewer.burst + 5); // + the viewers list and the catch-up

    const [row, ...more] = await floodRows(s.sessionId);
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({
      actorKind: 'user',
      actorName: user.name,
      targetId: s.sessionId,
      details: { role: 'viewer', reason: 'too_fast', closeCode: 4008 },
    });
    expect(row?.actorId).toMatch(/^user:/);
    // Counted up to the close, not all 10,000: nothing after it was read.
    expect(row?.details.frames).toBe(FRAME_LIMITS.viewer.burst + 1);
    expect(row?.details.bytes).toBe(FRAME_LIMITS.viewer.burst + 1);

    // The session is untouched: pieces upload, the launcher is heard, a new viewer watches.
    expect((await putFixture(s, 1)).status).toBe(201);
    launcher.ws.send(JSON.stringify({ type: 'renew' }));
    expect(await launcher.nextJson()).toMatchObject({ type: 'token' });
    const next = await watch(s.sessionId);
    await until(next, 'media'); // its catch-up
    next.ws.send('ping');
    await until(next, 'pong');
  });

  it('closes a viewer that sends one frame over its size limit with 1009, text or binary', async () => {
    const s = await launch();
    await connectLauncher(s);
    const text = await watch(s.sessionId);
    text.ws.send('x'.repeat(FRAME_LIMITS.viewer.maxFrameBytes + 1));
    expect((await text.closed).code).toBe(CloseCode.messageTooLarge);
    const binary = await watch(s.sessionId);
    binary.ws.send(new Uint8Array(64 * 1024));
    expect((await binary.closed).code).toBe(CloseCode.messageTooLarge);
    const rows = await floodRows(s.sessionId, 2);
    expect(rows.map((r) => r.details.reason)).toEqual(['too_large', 'too_large']);
  });

  it('does not count heartbeats: 500 pings are all answered, and the budget is whole after them', async () => {
    const s = await launch();
    await connectLauncher(s);
    const viewer = await watch(s.sessionId);
    const replies = countReplies(viewer);
    for (let i = 0; i < 500; i++) viewer.ws.send('ping');
    for (let i = 0; i < FRAME_LIMITS.viewer.burst; i++) viewer.ws.send('{"type":"hi"}');
    while ((replies.get('error') ?? 0) < FRAME_LIMITS.viewer.burst) await viewer.next();
    expect(replies.get('pong')).toBe(500);
    viewer.ws.send('ping');
    while ((replies.get('pong') ?? 0) < 501) await viewer.next();
    expect(await floodRows(s.sessionId, 0)).toHaveLength(0);
  });

  it('keeps a relayed viewer watching while the session object is evicted and woken again', async () => {
    const s = await launch();
    await connectLauncher(s);
    expect((await putFixture(s, 0)).status).toBe(201);
    const viewer = await watch(s.sessionId);
    await until(viewer, 'media');
    await evictDurableObject(env.SESSIONS.getByName(s.sessionId));
    viewer.ws.send('ping');
    await until(viewer, 'pong');
    expect((await putFixture(s, 1)).status).toBe(201);
    await until(viewer, 'media');
  });
});

describe('launcher control sockets', () => {
  it('a launcher flooding 10,000 activity messages is closed with 4008 and audited; the session goes on', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    expect((await putFixture(s, 0)).status).toBe(201);
    const replies = countReplies(launcher);
    flood(launcher, JSON.stringify({ type: 'activity' }));
    expect((await launcher.closed).code).toBe(CloseCode.rateLimited);
    expect([...replies.values()].reduce((a, b) => a + b, 0)).toBe(0); // activity has no reply, and the close none

    const [row] = await floodRows(s.sessionId);
    expect(row).toMatchObject({
      actorKind: 'launcher',
      actorName: 'launcher',
      details: { role: 'launcher', reason: 'too_fast', closeCode: 4008, frames: FRAME_LIMITS.launcher.burst + 1 },
    });

    // A new control socket is welcomed, pieces still upload, and the session is active.
    const again = await connectLauncher(s);
    expect(again.welcome).toMatchObject({ type: 'welcome', status: 'active', storedSeqs: [0] });
    expect((await putFixture(s, 1)).status).toBe(201);
    again.ws.send(JSON.stringify({ type: 'renew' }));
    expect(await again.nextJson()).toMatchObject({ type: 'token' });
    const state = (await (await api(`/sessions/${s.sessionId}`)).json()) as { status: string; live: unknown };
    expect(state).toMatchObject({ status: 'active', live: { launcherConnected: true } });
  });

  it('answers a flood of malformed frames only within the budget', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const replies = countReplies(launcher);
    flood(launcher, '{nope');
    expect((await launcher.closed).code).toBe(CloseCode.rateLimited);
    // At most the frames within the budget (its hello spent one) are answered, none after.
    expect(replies.get('error') ?? 0).toBeLessThanOrEqual(FRAME_LIMITS.launcher.burst - 1);
  });

  it('cannot reset its budget by saying hello again and again', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    flood(launcher, hello(), 1_000);
    expect((await launcher.closed).code).toBe(CloseCode.rateLimited);
    const [row] = await floodRows(s.sessionId);
    // The hello on connecting, 29 more within the burst, and the one refused.
    expect(row?.details.frames).toBe(FRAME_LIMITS.launcher.burst + 1);
  });

  it('closes a frame over 32 KiB with 1009 before reading it, before hello too', async () => {
    const s = await launch();
    const socket = await controlSocket(s);
    socket.ws.send(JSON.stringify({ type: 'end', lastSeq: 1, error: 'x'.repeat(FRAME_LIMITS.launcher.maxFrameBytes) }));
    expect((await socket.closed).code).toBe(CloseCode.messageTooLarge);
    const [row] = await floodRows(s.sessionId);
    expect(row?.details).toMatchObject({ role: 'launcher', reason: 'too_large', closeCode: 1009, frames: 1 });
    expect(row?.details.bytes).toBeGreaterThan(FRAME_LIMITS.launcher.maxFrameBytes);
    expect((await connectLauncher(s)).welcome).toMatchObject({ type: 'welcome' });
  });

  it('never closes a launcher that keeps to the protocol: hello, activity, renew, delivered, heartbeats, end', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const replies = countReplies(launcher);
    for (let i = 0; i < 1_000; i++) launcher.ws.send('ping');
    for (let i = 0; i < 5; i++) launcher.ws.send(JSON.stringify({ type: 'activity' }));
    for (let i = 0; i < 3; i++) launcher.ws.send(JSON.stringify({ type: 'renew' }));
    launcher.ws.send(JSON.stringify({ type: 'delivered', id: 'nothing-pending' }));
    expect((await putFixture(s, 0)).status).toBe(201);
    expect((await putFixture(s, 1)).status).toBe(201);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 1 }));
    while (!replies.get('ended')) await launcher.next();
    launcher.ws.send('ping');
    while ((replies.get('pong') ?? 0) < 1_001) await launcher.next();
    expect(replies.get('token')).toBe(3);
    expect(replies.get('error')).toBeUndefined();
    expect(await floodRows(s.sessionId, 0)).toHaveLength(0);
  });

  it('saves activity at most every 5 s; the next save carries what was not saved', async () => {
    const s = await launch({ policy: { inactivityTimeoutMs: 600_000 } });
    const launcher = await connectLauncher(s);
    const sync = async () => {
      launcher.ws.send(JSON.stringify({ type: 'renew' }));
      expect(await launcher.nextJson()).toMatchObject({ type: 'token' });
    };
    launcher.ws.send(JSON.stringify({ type: 'activity' }));
    await sync();
    const saved = (await storedRecord(s.sessionId)).lastActivityAt as number;
    // Mark the stored value, without waking the object anew, to see whether the next activity saves.
    await runInDurableObject(env.SESSIONS.getByName(s.sessionId), (_i: SessionDO, state) => {
      const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one();
      state.storage.sql.exec(
        `UPDATE state SET value = ? WHERE key = 'session'`,
        JSON.stringify({ ...JSON.parse(row.value), lastActivityAt: 1 }),
      );
    });
    for (let i = 0; i < 20; i++) launcher.ws.send(JSON.stringify({ type: 'activity' }));
    await sync();
    expect((await storedRecord(s.sessionId)).lastActivityAt).toBe(1);
    expect((await putFixture(s, 0)).status).toBe(201); // a piece saves the record
    expect((await storedRecord(s.sessionId)).lastActivityAt).toBeGreaterThanOrEqual(saved);
  });
});

describe('socket upgrades', () => {
  it('refuses a flooder its next upgrade for a while, with 429 and Retry-After; others still get in', async () => {
    const s = await launch();
    await connectLauncher(s);
    const user = await monitorUser();
    const viewer = await watch(s.sessionId, { cookie: user.cookie });
    flood(viewer, 'x', 100);
    expect((await viewer.closed).code).toBe(CloseCode.rateLimited);
    await floodRows(s.sessionId);
    const upgrade = () =>
      request(`/api/v1/sessions/${s.sessionId}/live`, { headers: { upgrade: 'websocket', cookie: user.cookie } });
    // The object hears of the flood just after the close (in the background): soon every upgrade is refused.
    await expect
      .poll(async () => {
        const res = await upgrade();
        res.webSocket?.accept();
        res.webSocket?.close(1000, 'done');
        return res.status;
      })
      .toBe(429);
    const refused = await upgrade();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_connections');
    // Another viewer of the session is not held back.
    const other = await watch(s.sessionId);
    other.ws.close(1000, 'done');
  });
  it("refuses a viewer's upgrades over the limit with 429, while other viewers and the launcher still get in", async () => {
    const s = await launch();
    await connectLauncher(s);
    const user = await monitorUser();
    const upgrade = (auth: Record<string, string>) =>
      request(`/api/v1/sessions/${s.sessionId}/live`, { headers: { upgrade: 'websocket', ...auth } });
    const statuses: number[] = [];
    for (let i = 0; i < SOCKET_UPGRADES_PER_MINUTE + 1; i++) {
      const res = await upgrade({ cookie: user.cookie });
      statuses.push(res.status);
      res.webSocket?.accept();
      res.webSocket?.close(1000, 'done');
    }
    expect(statuses.slice(0, SOCKET_UPGRADES_PER_MINUTE)).toEqual(Array(SOCKET_UPGRADES_PER_MINUTE).fill(101));
    const refused = await upgrade({ cookie: user.cookie });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_connections');
    // Another viewer of the same session, and the launcher, are counted apart.
    expect((await upgrade({ authorization: `Bearer ${API_KEY}` })).status).toBe(101);
    const control = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
    control.ws.send(hello());
    expect(await control.nextJson()).toMatchObject({ type: 'welcome' });
  });
});
