import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Permission, Permission as PermissionSchema } from '../../protocol/permissions.ts';
import { api, errorCode, launch, recordedSession, request } from './helpers.ts';

interface Login {
  cookie: string;
  csrf: string;
}

let ip = 0;
/** Each sign-in from its own address, so the per-address limiter only bites where a test means it to. */
const nextAddress = () => `10.0.${Math.floor(++ip / 250)}.${ip % 250}`;

async function signIn(username: string, password: string, address = nextAddress()): Promise<Response> {
  return request('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': address },
    body: JSON.stringify({ username, password }),
  });
}

async function login(username: string, password: string): Promise<Login> {
  const res = await signIn(username, password);
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrf: csrfToken };
}

/** Calls the API as a signed-in user (cookie + CSRF header, as the console does). */
function asUser(user: Login, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('cookie', user.cookie);
  headers.set('x-csrf-token', user.csrf);
  if (init.body) headers.set('content-type', 'application/json');
  return request(`/api/v1${path}`, { ...init, headers });
}

const PASSWORD = 'a-long-enough-password-1';

/** Creates a user with `permissions` (through the bootstrap key) and signs them in, past the first-login change. */
async function userWith(permissions: Permission[]): Promise<Login> {
  const username = `u${crypto.randomUUID().slice(0, 8)}`;
  const created = await api('/users', {
    method: 'POST',
    body: JSON.stringify({ username, password: PASSWORD, permissions }),
  });
  expect(created.status).toBe(201);
  const first = await login(username, PASSWORD);
  const changed = await asUser(first, '/auth/password', {
    method: 'POST',
    body: JSON.stringify({ currentPassword: PASSWORD, newPassword: `${PASSWORD}-changed` }),
  });
  expect(changed.status).toBe(200);
  return first;
}

async function keyWith(scopes: string[], host?: string): Promise<string> {
  const res = await api('/keys', {
    method: 'POST',
    body: JSON.stringify({ name: `k-${scopes.join('+')}`, scopes, host }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { secret: string }).secret;
}

/** What the routes act on: a session still pending (live), and an ended one whose recording is sealed. */
interface Fixtures {
  live: string;
  recorded: string;
}

interface Route {
  name: string;
  /** Any one of these lets the caller in. */
  needs: Permission | Permission[];
  call: (auth: (path: string, init?: RequestInit) => Promise<Response>, f: Fixtures) => Promise<Response>;
  /** What a caller let in gets: the route's own success status... */
  status: number;
  /** ...and the body (or socket) it promises. */
  check: (res: Response, f: Fixtures) => Promise<void>;
}

function allows(granted: readonly Permission[], route: Route): boolean {
  return [route.needs].flat().some((permission) => granted.includes(permission));
}

const json = <T>(res: Response) => res.json() as Promise<T>;

const ROUTES: Route[] = [
  {
    name: 'GET /sessions',
    needs: 'sessions:monitor',
    call: (a) => a('/sessions?limit=200'),
    status: 200,
    check: async (res, f) => {
      const { sessions } = await json<{ sessions: Array<{ id: string }> }>(res);
      expect(sessions.map((s) => s.id)).toEqual(expect.arrayContaining([f.live, f.recorded]));
    },
  },
  {
    name: 'GET /sessions/{id}',
    needs: ['sessions:monitor', 'sessions:watch-live', 'recordings:view'],
    call: (a, f) => a(`/sessions/${f.live}`),
    status: 200,
    check: async (res, f) => expect(await json(res)).toMatchObject({ id: f.live, status: 'pending' }),
  },
  {
    name: 'POST /launches',
    needs: 'sessions:launch',
    call: (a) => a('/launches', { method: 'POST', body: JSON.stringify({ user: 'x', target: 'host-1' }) }),
    status: 201,
    check: async (res) => {
      const reply = await json<{ sessionId: string; token: string; format: string }>(res);
      expect(reply.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(reply.token.startsWith(`wt1.${reply.sessionId}.`)).toBe(true);
      expect(reply.format).toBe('webm');
    },
  },
  {
    name: 'POST /sessions/{id}/terminate',
    needs: 'sessions:terminate',
    // A message, not a terminate: the session stays for the next caller. No launcher is connected to hear it.
    call: (a, f) =>
      a(`/sessions/${f.live}/terminate`, { method: 'POST', body: JSON.stringify({ mode: 'message', message: 'hi' }) }),
    status: 200,
    check: async (res) => expect(await json(res)).toEqual({ delivered: false, status: 'pending', endReason: null }),
  },
  {
    name: 'GET /sessions/{id}/live (socket)',
    needs: 'sessions:watch-live',
    call: (a, f) => a(`/sessions/${f.live}/live`, { headers: { upgrade: 'websocket' } }),
    status: 101,
    check: async (res, f) => {
      const ws = res.webSocket;
      if (!ws) throw new Error('a 101 without a socket');
      ws.accept();
      const hello = new Promise<string>((resolve) =>
        ws.addEventListener('message', (e) => resolve(e.data as string), { once: true }),
      );
      expect(JSON.parse(await hello)).toMatchObject({ type: 'hello', sessionId: f.live, status: 'pending' });
      ws.close(1000, 'done');
    },
  },
  {
    name: 'GET /sessions/{id}/recording.webm',
    needs: 'recordings:view',
    call: (a, f) => a(`/sessions/${f.recorded}/recording.webm`),
    status: 200,
    check: async (res) => {
      expect(res.headers.get('content-type')).toBe('video/webm');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBe(Number(res.headers.get('content-length')));
      expect([...bytes.subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // the EBML header
    },
  },
  {
    name: 'GET /sessions/{id}/processing',
    needs: 'recordings:view',
    call: (a, f) => a(`/sessions/${f.recorded}/processing`),
    status: 200,
    check: async (res) => expect(await json(res)).toEqual({ processing: null, record: null }),
  },
  {
    name: 'GET /sessions/{id}/recording.mp4',
    needs: 'recordings:view',
    call: (a, f) => a(`/sessions/${f.recorded}/recording.mp4`),
    // Let in, and told there is no MP4 (none was asked for).
    status: 409,
    check: async (res) => expect(await errorCode(res)).toBe('mp4_not_ready'),
  },
  {
    name: 'POST /processing/retry-failed',
    needs: 'recording:administer',
    call: (a) => a('/processing/retry-failed', { method: 'POST' }),
    status: 200,
    check: async (res) => expect(await json(res)).toEqual({ retried: [] }),
  },
  {
    name: 'POST /processing/lease',
    needs: 'processing:run',
    call: (a) => a('/processing/lease', { method: 'POST', body: JSON.stringify({ encoders: ['h264'] }) }),
    // Nothing was queued in this file: no job is due.
    status: 204,
    check: async (res) => expect(await res.text()).toBe(''),
  },
  {
    name: 'GET /settings/recording/processing',
    needs: 'recording:administer',
    call: (a) => a('/settings/recording/processing'),
    status: 200,
    check: async (res) => expect(await json(res)).toEqual({ onDemand: true, codec: 'h264' }),
  },
  {
    name: 'GET /settings/recording',
    needs: 'recording:administer',
    call: (a) => a('/settings/recording'),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ recordingEnabled: true, keystrokesEnabled: true }),
  },
  {
    name: 'PUT /settings/recording',
    needs: 'recording:administer',
    call: (a) => a('/settings/recording', { method: 'PUT', body: JSON.stringify({ keystrokesEnabled: true }) }),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ keystrokesEnabled: true }),
  },
  {
    name: 'GET /settings/recording/retention',
    needs: 'recording:administer',
    call: (a) => a('/settings/recording/retention'),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ archive: { enabled: false } }),
  },
  {
    name: 'PUT /settings/recording/retention',
    needs: 'recording:administer',
    call: (a) =>
      a('/settings/recording/retention', { method: 'PUT', body: JSON.stringify({ archive: { afterDays: 90 } }) }),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ archive: { enabled: false, afterDays: 90 } }),
  },
  {
    name: 'GET /settings/recording/retention/next-run',
    needs: 'recording:administer',
    call: (a) => a('/settings/recording/retention/next-run'),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ archive: 0, delete: 0 }),
  },
  {
    name: 'GET /sessions/{id}/retention',
    needs: ['sessions:monitor', 'recordings:view', 'recording:administer'],
    call: (a, f) => a(`/sessions/${f.recorded}/retention`),
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ state: null, hold: null }),
  },
  {
    name: 'PUT /sessions/{id}/hold',
    needs: 'recording:administer',
    // Released again (by the bootstrap key) so that the next role finds the session not held.
    call: async (a, f) => {
      const res = await a(`/sessions/${f.recorded}/hold`, {
        method: 'PUT',
        body: JSON.stringify({ reason: 'matrix' }),
      });
      await api(`/sessions/${f.recorded}/hold`, { method: 'DELETE', body: JSON.stringify({ reason: 'matrix' }) });
      return res;
    },
    status: 200,
    check: async (res) => expect(await json(res)).toMatchObject({ hold: { reason: 'matrix' } }),
  },
  {
    name: 'DELETE /sessions/{id}/hold',
    needs: 'recording:administer',
    // Held first (by the bootstrap key; a hold left by a role refused is kept), then released by the caller.
    call: async (a, f) => {
      await api(`/sessions/${f.recorded}/hold`, { method: 'PUT', body: JSON.stringify({ reason: 'matrix' }) });
      return a(`/sessions/${f.recorded}/hold`, { method: 'DELETE', body: JSON.stringify({ reason: 'done' }) });
    },
    status: 200,
    check: async (res) => expect(await json(res)).toEqual({ hold: null }),
  },
  {
    name: 'GET /users',
    needs: 'users:manage',
    call: (a) => a('/users'),
    status: 200,
    check: async (res) => {
      const { users } = await json<{ users: Array<{ username: string }> }>(res);
      expect(users.map((u) => u.username)).toContain('admin');
    },
  },
  {
    name: 'POST /users',
    needs: 'users:manage',
    call: (a) =>
      a('/users', {
        method: 'POST',
        body: JSON.stringify({ username: `n${crypto.randomUUID().slice(0, 6)}`, password: PASSWORD, permissions: [] }),
      }),
    status: 201,
    check: async (res) => expect(await json(res)).toMatchObject({ username: expect.stringMatching(/^n/) }),
  },
  {
    name: 'GET /keys',
    needs: 'users:manage',
    call: (a) => a('/keys'),
    status: 200,
    check: async (res) => expect(Array.isArray((await json<{ keys: unknown }>(res)).keys)).toBe(true),
  },
  {
    name: 'POST /keys',
    needs: 'users:manage',
    call: (a) => a('/keys', { method: 'POST', body: JSON.stringify({ name: 'x', scopes: ['read'] }) }),
    status: 201,
    check: async (res) => {
      const created = await json<{ key: { name: string; scopes: string[] }; secret: string }>(res);
      expect(created.key).toMatchObject({ name: 'x', scopes: ['read'] });
      expect(created.secret).toMatch(/^wk_/);
    },
  },
  {
    name: 'GET /audit',
    needs: 'audit:view',
    call: (a) => a('/audit'),
    status: 200,
    check: async (res) => expect((await json<{ entries: unknown[] }>(res)).entries.length).toBeGreaterThan(0),
  },
];

describe('every route × every role', () => {
  const roles: Array<[string, Permission[]]> = [
    ['no permissions', []],
    ...PermissionSchema.options.map((p): [string, Permission[]] => [p, [p]]),
    ['administrator', [...PermissionSchema.options]],
  ];
  const users = new Map<string, Login>();
  const fixtures: Fixtures = { live: '', recorded: '' };

  beforeAll(async () => {
    fixtures.live = (await launch()).sessionId;
    fixtures.recorded = await recordedSession();
    for (const [name, permissions] of roles) users.set(name, await userWith(permissions));
    // A user per permission, each signed in and past the first-login change: three PBKDF2 hashes apiece.
  }, 60_000);

  for (const route of ROUTES) {
    for (const [role, permissions] of roles) {
      const allowed = allows(permissions, route);
      it(`${route.name} as ${role}: ${allowed ? route.status : 403}`, async () => {
        const user = users.get(role) as Login;
        const res = await route.call((path, init) => asUser(user, path, init), fixtures);
        if (allowed) {
          expect(res.status, await describeFailure(res, route.status)).toBe(route.status);
          await route.check(res, fixtures);
        } else {
          expect(res.status).toBe(403);
          expect(await errorCode(res)).toBe('forbidden');
        }
      });
    }
  }

  it('API key scopes: read, launch, agent and processor get exactly their routes', async () => {
    const read = await keyWith(['read']);
    const launcher = await keyWith(['launch']);
    const agent = await keyWith(['agent'], 'host-1');
    const processor = await keyWith(['processor']);
    const bearer =
      (key: string) =>
      (path: string, init: RequestInit = {}) =>
        api(path, {
          ...init,
          headers: { ...Object.fromEntries(new Headers(init.headers)), authorization: `Bearer ${key}` },
        });
    const expectations: Array<[string, string, Permission[]]> = [
      ['read', read, ['sessions:monitor', 'recordings:view']],
      ['launch', launcher, ['sessions:launch']],
      ['agent', agent, ['sessions:launch']],
      ['processor', processor, ['processing:run']],
    ];
    for (const [name, key, granted] of expectations) {
      for (const route of ROUTES) {
        const res = await route.call(bearer(key), fixtures);
        const what = `${name} key on ${route.name}`;
        if (allows(granted, route)) {
          expect(res.status, `${what}: ${await describeFailure(res, route.status)}`).toBe(route.status);
          await route.check(res, fixtures);
        } else {
          expect(res.status, what).toBe(403);
          expect(await errorCode(res), what).toBe('forbidden');
        }
      }
    }
    const elsewhere = await bearer(agent)('/launches', {
      method: 'POST',
      body: JSON.stringify({ user: 'x', target: 'host-2' }),
    });
    expect(elsewhere.status).toBe(403);
    expect(await errorCode(elsewhere)).toBe('wrong_host');
  });
});

/** For an assertion's message: an unexpected answer's status and body (read from a clone). */
async function describeFailure(res: Response, expected: number): Promise<string> {
  if (res.status === expected) return '';
  return `${res.status} ${await res.clone().text()}`;
}

describe('console sign-in', () => {
  it('the bootstrap admin signs in with an HttpOnly, Secure, SameSite=Strict cookie', async () => {
    const res = await signIn('admin', 'first-admin-password-123');
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^witness_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('Secure');
    expect(cookie).toContain('SameSite=Strict');
    const body = (await res.json()) as { user: { permissions: string[] } };
    expect(body.user.permissions).toEqual(PermissionSchema.options);
  });

  it('cookie writes need the CSRF token', async () => {
    const user = await userWith(['sessions:terminate']);
    const s = await launch();
    const res = await request(`/api/v1/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      headers: { cookie: user.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'terminate' }),
    });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('csrf_failed');
    expect(((await (await api(`/sessions/${s.sessionId}`)).json()) as { status: string }).status).toBe('pending');
  });

  it('after five failed sign-ins from one address, that address waits, even with the right password', async () => {
    const username = `bf${crypto.randomUUID().slice(0, 6)}`;
    await api('/users', { method: 'POST', body: JSON.stringify({ username, password: PASSWORD, permissions: [] }) });
    const address = nextAddress();
    for (let i = 0; i < 5; i++) {
      const res = await signIn(username, `wrong-${i}`, address);
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('invalid_credentials');
    }
    // As if the fifth failure had just happened (it was a few milliseconds ago).
    await env.DB.prepare('UPDATE login_throttle SET last_failure_at = ? WHERE username = ? AND scope = ?')
      .bind(Date.now(), username, address)
      .run();
    const held = await signIn(username, PASSWORD, address);
    expect(held.status).toBe(429);
    expect(await errorCode(held)).toBe('sign_in_delayed');
    expect(held.headers.get('retry-after')).toBe('1');
    // The account is not locked: from another address the right password signs in (test/workers/auth-throttle.test.ts).
    expect((await signIn(username, PASSWORD)).status).toBe(200);
    const audit = (await (await api(`/audit?actor=${username}`)).json()) as { entries: Array<{ action: string }> };
    expect(audit.entries.map((e) => e.action)).toEqual([
      'login.succeeded',
      'login.throttled',
      ...Array(5).fill('login.failed'),
    ]);
  });

  it('throttles sign-in attempts from one address', async () => {
    const address = '192.0.2.77';
    // The limiter counts in fixed 60 s windows: a run that straddles a window edge may let up to 10 more in
    // before the first 429, so the first 429 must come after 10 and at most 20 refusals, and stay after that.
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await signIn(`nobody${i}`, 'x', address)).status);
    const first = statuses.indexOf(429);
    expect(first).toBeGreaterThanOrEqual(10);
    expect(first).toBeLessThanOrEqual(20);
    expect(statuses.slice(0, first).every((s) => s === 401)).toBe(true);
    expect(statuses[first + 1]).toBe(429);
  });

  it('unknown users and wrong passwords get the same answer', async () => {
    const unknown = await signIn('no-such-user', PASSWORD);
    const wrong = await signIn('admin', 'not-the-password');
    expect(unknown.status).toBe(wrong.status);
    expect(await unknown.json()).toEqual(await wrong.json());
  });

  it('logout ends the login; idle and absolute expiry end it too', async () => {
    const a = await userWith(['sessions:monitor']);
    expect((await asUser(a, '/sessions')).status).toBe(200);
    expect((await asUser(a, '/auth/logout', { method: 'POST' })).status).toBe(200);
    const after = await asUser(a, '/sessions');
    expect(after.status).toBe(401);
    expect(await errorCode(after)).toBe('login_expired');

    const idle = await userWith(['sessions:monitor']);
    await env.DB.prepare('UPDATE login_sessions SET last_seen_at = ? WHERE revoked_at IS NULL AND last_seen_at > ?')
      .bind(Date.now() - 31 * 60_000, Date.now() - 5_000)
      .run();
    expect((await asUser(idle, '/sessions')).status).toBe(401);

    const old = await userWith(['sessions:monitor']);
    await env.DB.prepare('UPDATE login_sessions SET expires_at = ? WHERE revoked_at IS NULL')
      .bind(Date.now() - 1)
      .run();
    expect((await asUser(old, '/sessions')).status).toBe(401);
  });

  it('a new user must change the given password before anything else', async () => {
    const username = `nu${crypto.randomUUID().slice(0, 6)}`;
    await api('/users', {
      method: 'POST',
      body: JSON.stringify({ username, password: PASSWORD, permissions: ['sessions:monitor'] }),
    });
    const user = await login(username, PASSWORD);
    const me = (await (await asUser(user, '/auth/me')).json()) as {
      mustChangePassword: boolean;
      permissions: string[];
    };
    expect(me).toMatchObject({ mustChangePassword: true, permissions: [] });
    expect((await asUser(user, '/sessions')).status).toBe(403);
  });

  it('disabling a user ends their logins', async () => {
    const user = await userWith(['sessions:monitor']);
    const me = (await (await asUser(user, '/auth/me')).json()) as { name: string };
    const list = (await (await api('/users')).json()) as { users: Array<{ id: string; username: string }> };
    const id = list.users.find((u) => u.username === me.name)?.id;
    expect((await api(`/users/${id}`, { method: 'PATCH', body: JSON.stringify({ disabled: true }) })).status).toBe(200);
    expect((await asUser(user, '/sessions')).status).toBe(401);
  });
});

describe('API keys', () => {
  it('are shown once, stored hashed, and stop working when revoked or expired', async () => {
    const created = await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'ci', scopes: ['read'] }) });
    const { key, secret } = (await created.json()) as { key: { id: string; prefix: string }; secret: string };
    expect(secret).toMatch(/^wk_[A-Za-z0-9_-]{43}$/);
    const listed = await (await api('/keys')).text();
    expect(listed).not.toContain(secret);
    expect(listed).toContain(key.prefix);
    const stored = await env.DB.prepare('SELECT secret_hash FROM api_keys WHERE id = ?')
      .bind(key.id)
      .first<{ secret_hash: string }>();
    expect(stored?.secret_hash).not.toContain(secret.slice(3));

    expect((await api('/sessions', { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    expect((await api(`/keys/${key.id}`, { method: 'DELETE' })).status).toBe(200);
    const revoked = await api('/sessions', { headers: { authorization: `Bearer ${secret}` } });
    expect(revoked.status).toBe(401);
    expect(await errorCode(revoked)).toBe('invalid_api_key');

    const expiring = await keyWith(['read']);
    await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE name = 'k-read' AND expires_at IS NULL")
      .bind(Date.now() - 1)
      .run();
    expect((await api('/sessions', { headers: { authorization: `Bearer ${expiring}` } })).status).toBe(401);
  });

  it('refuse an agent key without a host and an unknown scope', async () => {
    expect(
      (await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'a', scopes: ['agent'] }) })).status,
    ).toBe(400);
    expect((await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'a', scopes: ['root'] }) })).status).toBe(
      400,
    );
  });
});

describe('audit log', () => {
  it('records launches, live watching, viewing, downloads, terminations, settings, users and keys', async () => {
    const admin = await login('admin', 'first-admin-password-123');
    const s = await launch();
    await asUser(admin, `/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: 'bye' }),
    });
    await asUser(admin, '/settings/recording', {
      method: 'PUT',
      body: JSON.stringify({ inactivityTimeoutMs: 600_000 }),
    });
    const key = (await (
      await asUser(admin, '/keys', { method: 'POST', body: JSON.stringify({ name: 'audited', scopes: ['read'] }) })
    ).json()) as {
      key: { id: string };
      secret: string;
    };
    await asUser(admin, `/keys/${key.key.id}`, { method: 'DELETE' });
    const live = await launch();
    await asUser(admin, `/sessions/${live.sessionId}/live`, { headers: { upgrade: 'websocket' } });

    const res = await asUser(admin, '/audit?actor=admin&limit=50');
    const { entries } = (await res.json()) as {
      entries: Array<{ action: string; targetId: string | null; details: unknown }>;
    };
    const actions = entries.map((e) => e.action);
    for (const action of [
      'login.succeeded',
      'session.terminated',
      'settings.changed',
      'key.created',
      'key.revoked',
      'session.watched_live',
    ]) {
      expect(actions).toContain(action);
    }
    expect(entries.find((e) => e.action === 'session.terminated')).toMatchObject({
      targetId: s.sessionId,
      details: { message: 'bye' },
    });
    // No secret ever lands in the log: not the password, not the key (its public prefix may).
    expect(JSON.stringify(entries)).not.toContain('first-admin-password');
    expect(JSON.stringify(entries)).not.toContain(key.secret);

    const launched = (await (await api(`/audit?action=session.launched&target=${s.sessionId}`)).json()) as {
      entries: unknown[];
    };
    expect(launched.entries).toHaveLength(1);
    const searched = (await (await api('/audit?q=audited')).json()) as { entries: Array<{ action: string }> };
    expect(searched.entries.map((e) => e.action)).toEqual(['key.revoked', 'key.created']);
  });

  it('is append-only', async () => {
    await signIn('nobody', 'x');
    await expect(env.DB.prepare("UPDATE audit_log SET action = 'nothing'").run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare('DELETE FROM audit_log').run()).rejects.toThrow(/append-only/);
  });
});

describe('hardening', () => {
  it('API answers carry security headers', async () => {
    const res = await api('/sessions');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});
