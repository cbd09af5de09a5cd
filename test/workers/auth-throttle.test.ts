/**
 * Sign-in limits against the attacks they exist for: forged and rotated addresses, a stranger trying to lock the
 * administrator out, a crowd of addresses, parallel attempts, unknown usernames. Waits are checked by their
 * Retry-After and by moving the stored time of the last failure back, never by sleeping.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_LIMIT, ADDRESS_LIMIT, delayAfter } from '../../worker/auth/sign-in-throttle.ts';
import { formatAddress, parseAddress, throttleKey } from '../../worker/client-address.ts';
import { app } from '../../worker/index.ts';
import { api, errorCode, request } from './helpers.ts';

const ADMIN_PASSWORD = 'first-admin-password-123';
const PASSWORD = 'a-long-enough-password-1';

function loginRequest(username: string, password: string, headers: Record<string, string>): Request {
  return new Request('https://witness.test/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  });
}

/** A sign-in as Cloudflare's edge delivers it: CF-Connecting-IP is `address` (wrangler.jsonc trusts it). */
function signIn(username: string, password: string, address: string, headers: Record<string, string> = {}) {
  return request('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': address, ...headers },
    body: JSON.stringify({ username, password }),
  });
}

// A bare `wrangler dev`: every header the client sent arrives as it sent it. (Env types the var as wrangler.jsonc
// sets it; this Worker is configured otherwise.)
const untrusted: Env = Object.assign({}, env, { TRUST_CF_CONNECTING_IP: 'false' });

function signInUntrusted(username: string, password: string, headers: Record<string, string>) {
  return app.fetch(loginRequest(username, password, headers), untrusted);
}

async function newUser(): Promise<{ id: string; username: string }> {
  const username = `t${crypto.randomUUID().slice(0, 8)}`;
  const res = await api('/users', {
    method: 'POST',
    body: JSON.stringify({ username, password: PASSWORD, permissions: [] }),
  });
  expect(res.status).toBe(201);
  return { id: ((await res.json()) as { id: string }).id, username };
}

interface Entry {
  action: string;
  ip: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
}

async function auditOf(actor: string): Promise<Entry[]> {
  const res = await api(`/audit?actor=${encodeURIComponent(actor)}&limit=500`);
  return ((await res.json()) as { entries: Entry[] }).entries;
}

const actions = (entries: Entry[], action: string) => entries.filter((e) => e.action === action);

/** Sets when the last counted failure of `username` in `scope` happened, as if the clock had moved. */
async function lastFailureAt(username: string, scope: string, at: number): Promise<void> {
  const result = await env.DB.prepare('UPDATE login_throttle SET last_failure_at = ? WHERE username = ? AND scope = ?')
    .bind(at, username, scope)
    .run();
  expect(result.meta.changes, `a count for ${username} in ${scope}`).toBe(1);
}

async function failures(username: string, address: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await signIn(username, `wrong-${i}`, address)).status);
  return statuses;
}

describe('addresses', () => {
  it('parse to one canonical form, and IPv6 counts by its /64', () => {
    expect(formatAddress(parseAddress('2001:0DB8:0000:0000:0000:0000:0000:0001') ?? [])).toBe('2001:db8::1');
    expect(formatAddress(parseAddress('2001:db8:0:1:0:0:0:1') ?? [])).toBe('2001:db8:0:1::1');
    expect(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1') ?? [])).toBe('2001:db8::1:0:0:1');
    expect(formatAddress(parseAddress('::') ?? [])).toBe('::');
    expect(formatAddress(parseAddress('fe80::1%eth0') ?? [])).toBe('fe80::1');
    expect(parseAddress('::ffff:203.0.113.9')).toEqual([203, 0, 113, 9]);
    expect(throttleKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(throttleKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:db8:1:2::1')).toBe(throttleKey('2001:DB8:1:2:ffff::'));
    expect(throttleKey('2001:db8:1:3::1')).not.toBe(throttleKey('2001:db8:1:2::1'));
    for (const junk of ['', 'x', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4, 5.6.7.8', ':::', '1::2::3']) {
      expect(parseAddress(junk), junk).toBeNull();
    }
    expect(parseAddress('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseAddress('1::2:3:4:5:6:7:8')).toBeNull();
    expect(throttleKey(null)).toBe('untrusted');
    expect(throttleKey('not an address')).toBe('untrusted');
  });

  it('without trust, forged addresses in any header all share one limit, and none is recorded', async () => {
    const { username } = await newUser();
    const forged = (i: number) => ({
      'cf-connecting-ip': `198.51.100.${i}`,
      'cf-connecting-ipv6': `2001:db8:${i}::1`,
      'x-real-ip': `192.0.2.${i}`,
      'x-forwarded-for': `203.0.113.${i}`,
      'true-client-ip': `198.18.0.${i}`,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signInUntrusted(username, `wrong-${i}`, forged(i))).status);
    expect(statuses).toEqual([...Array(ADDRESS_LIMIT.freeFailures).fill(401), ...Array(7).fill(429)]);
    const entries = await auditOf(username);
    expect(actions(entries, 'login.failed')).toHaveLength(ADDRESS_LIMIT.freeFailures);
    expect(entries.map((e) => e.ip)).toEqual(entries.map(() => null));

    // A new username with each try: the per-address limiter (10 a minute) holds, as every try is one address.
    const spray: number[] = [];
    for (let i = 0; i < 22; i++) spray.push((await signInUntrusted(`nobody-${i}`, 'x', forged(100 + i))).status);
    expect(spray).toContain(429);
    expect(spray.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
  });

  it('with trust, CF-Connecting-IP is the address: other headers change nothing, and it is recorded', async () => {
    const { username } = await newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const headers = {
        'x-real-ip': `192.0.2.${i}`,
        'x-forwarded-for': `192.0.2.${i}`,
        'cf-connecting-ipv6': `2001:db8::${i}`,
      };
      statuses.push((await signIn(username, `wrong-${i}`, '203.0.113.10', headers)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // The same address written another way is the same address.
    expect((await signIn(username, PASSWORD, '::ffff:203.0.113.10')).status).toBe(429);
    // Another address is not held back.
    const elsewhere = await signIn(username, 'wrong', '203.0.113.11');
    expect(elsewhere.status).toBe(401);
    const entries = await auditOf(username);
    expect(actions(entries, 'login.failed').map((e) => e.ip)).toEqual([
      '203.0.113.11',
      ...Array(5).fill('203.0.113.10'),
    ]);
  });

  it('rotating through an IPv6 /64 does not escape the limit; another /64 is another address', async () => {
    const { username } = await newUser();
    const statuses: number[] = [];
    for (let i = 1; i <= 7; i++)
      statuses.push((await signIn(username, 'wrong', `2001:db8:5:6::${i.toString(16)}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await signIn(username, 'wrong', '2001:DB8:5:6:0:0:0:FFFF')).status).toBe(429);
    expect((await signIn(username, PASSWORD, '2001:db8:5:7::1')).status).toBe(200);
  });

  it('malformed CF-Connecting-IP values are one address, not one each', async () => {
    const { username } = await newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await signIn(username, 'wrong', `junk-${i}`)).status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(ADDRESS_LIMIT.freeFailures);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect((await auditOf(username)).every((e) => e.ip === null)).toBe(true);
  });
});

describe('a stranger', () => {
  it('failing as admin from one address does not stop admin signing in from another', async () => {
    const stranger = '198.51.100.66';
    const tries = await failures('admin', stranger, 8);
    expect(tries).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const held = await signIn('admin', ADMIN_PASSWORD, stranger);
    expect(held.status).toBe(429);
    expect(await errorCode(held)).toBe('sign_in_delayed');
    expect((await signIn('admin', ADMIN_PASSWORD, '198.51.100.1')).status).toBe(200);
    // And the stranger is still held back afterwards: the admin's success counts for the admin's address only.
    expect((await signIn('admin', 'wrong', stranger)).status).toBe(429);
  });

  it('with a crowd of addresses slows new addresses, never the ones the owner signs in from', async () => {
    const { username } = await newUser();
    const home = '192.0.2.200';
    expect((await signIn(username, PASSWORD, home)).status).toBe(200);
    for (let i = 0; i < ACCOUNT_LIMIT.freeFailures; i++) {
      expect((await signIn(username, 'wrong', `198.18.1.${i}`)).status).toBe(401);
    }
    await lastFailureAt(username, '*', Date.now());
    const newcomer = await signIn(username, PASSWORD, '198.18.2.1');
    expect(newcomer.status).toBe(429);
    expect(await errorCode(newcomer)).toBe('sign_in_delayed');
    expect(newcomer.headers.get('retry-after')).toBe('1');
    expect((await signIn(username, PASSWORD, home)).status).toBe(200);

    // The refusal did not count against the newcomer's address: once the wait is over, it is its first failure.
    await lastFailureAt(username, '*', Date.now() - 1000);
    expect((await signIn(username, 'wrong', '198.18.2.1')).status).toBe(401);
    const entries = await auditOf(username);
    expect(entries[0]).toMatchObject({ action: 'login.failed', ip: '198.18.2.1', details: { failures: 1 } });
    const throttled = actions(entries, 'login.throttled');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.details).toMatchObject({
      limit: 'account',
      failures: ACCOUNT_LIMIT.freeFailures,
      waitSeconds: 1,
    });

    // At most a minute apart, however many fail.
    for (let i = 0; i < 10; i++) {
      await lastFailureAt(username, '*', Date.now() - ACCOUNT_LIMIT.maxDelayMs);
      expect((await signIn(username, 'wrong', `198.18.3.${i}`)).status).toBe(401);
    }
    await lastFailureAt(username, '*', Date.now());
    expect((await signIn(username, PASSWORD, '198.18.2.2')).headers.get('retry-after')).toBe('60');
  });

  it('cannot slip parallel attempts past the limit', async () => {
    const { username } = await newUser();
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => signIn(username, `wrong-${i}`, '198.51.100.99')),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(ADDRESS_LIMIT.freeFailures).fill(401), ...Array(7).fill(429)]);
  });

  it('learns nothing from the throttle about which usernames exist', async () => {
    const { username } = await newUser();
    const ghost = `ghost-${crypto.randomUUID().slice(0, 8)}`;
    const answers = async (name: string, address: string) => {
      const out: Array<[number, string | null, unknown]> = [];
      for (let i = 0; i < 7; i++) {
        const res = await signIn(name, 'wrong', address);
        out.push([res.status, res.headers.get('retry-after'), await res.json()]);
      }
      return out;
    };
    expect(await answers(ghost, '192.0.2.31')).toEqual(await answers(username, '192.0.2.32'));
  });
});

// The per-address limiter allows 10 sign-ins a minute from one address, so a scenario longer than that starts
// from a count set here, as that many failures would have left it.
describe('waits', () => {
  it('grow from 1 s, doubling with each failure, up to 15 minutes; refused attempts do not count', async () => {
    const { username } = await newUser();
    expect(await failures(username, '203.0.113.50', ADDRESS_LIMIT.freeFailures)).toEqual(Array(5).fill(401));
    await lastFailureAt(username, '203.0.113.50', Date.now());
    expect((await signIn(username, PASSWORD, '203.0.113.50')).headers.get('retry-after')).toBe('1');

    const waits: number[][] = [];
    for (let k = 0; k < 12; k++) {
      const address = `203.0.113.${51 + k}`;
      const counted = ADDRESS_LIMIT.freeFailures + k;
      await env.DB.prepare(
        'INSERT INTO login_throttle (username, scope, failures, last_failure_at) VALUES (?, ?, ?, ?)',
      )
        .bind(username, address, counted, Date.now())
        .run();
      const seen: number[] = [];
      for (let refused = 0; refused < 2; refused++) {
        const res = await signIn(username, PASSWORD, address);
        expect(res.status).toBe(429);
        seen.push(Number(res.headers.get('retry-after')));
      }
      await lastFailureAt(username, address, Date.now() - delayAfter(counted, ADDRESS_LIMIT));
      expect((await signIn(username, 'wrong', address)).status).toBe(401);
      await lastFailureAt(username, address, Date.now());
      seen.push(Number((await signIn(username, PASSWORD, address)).headers.get('retry-after')));
      waits.push(seen);
    }
    // After the 5th failure 1 s, after the 6th 2 s, ...: each row is one count, twice refused, then one more.
    const expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900];
    expect(waits).toEqual(expected.slice(0, 12).map((w, k) => [w, w, expected[k + 1]]));
  });

  it('end with a successful sign-in from that address', async () => {
    const { username } = await newUser();
    const address = '203.0.113.90';
    expect(await failures(username, address, 3)).toEqual([401, 401, 401]);
    expect((await signIn(username, PASSWORD, address)).status).toBe(200);
    expect(await failures(username, address, 6)).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('are audited once per run of failures, and a count is forgotten after an hour', async () => {
    const { username } = await newUser();
    const address = '203.0.113.91';
    expect(await failures(username, address, 6)).toEqual([401, 401, 401, 401, 401, 429]);
    await lastFailureAt(username, address, Date.now() - 1000);
    expect((await signIn(username, 'wrong', address)).status).toBe(401);
    const throttled = actions(await auditOf(username), 'login.throttled');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({ ip: address, details: { limit: 'address', failures: 5, waitSeconds: 1 } });

    await lastFailureAt(username, address, Date.now() - 60 * 60_000);
    expect((await signIn(username, 'wrong', address)).status).toBe(401);
    const row = await env.DB.prepare(
      'SELECT failures, reported_at FROM login_throttle WHERE username = ? AND scope = ?',
    )
      .bind(username, address)
      .first();
    // A new run: counted from one, and to be audited again when it makes attempts wait.
    expect(row).toEqual({ failures: 1, reported_at: null });
  });
});

describe('an administrator', () => {
  it('unlocks a user, and that is audited', async () => {
    const { id, username } = await newUser();
    const address = '203.0.113.70';
    expect(await failures(username, address, 6)).toEqual([401, 401, 401, 401, 401, 429]);
    const list = (await (await api('/users')).json()) as { users: Array<{ id: string; signInThrottled: boolean }> };
    expect(list.users.find((u) => u.id === id)?.signInThrottled).toBe(true);

    const unlocked = await api(`/users/${id}/unlock`, { method: 'POST' });
    expect(unlocked.status).toBe(200);
    expect(await unlocked.json()).toMatchObject({ id, signInThrottled: false });
    expect((await signIn(username, PASSWORD, address)).status).toBe(200);

    const audit = (await (await api(`/audit?action=user.unlocked&target=${id}`)).json()) as { entries: Entry[] };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ details: { username, limitsCleared: 1 } });

    expect((await api(`/users/${crypto.randomUUID()}/unlock`, { method: 'POST' })).status).toBe(404);
    const key = (await (
      await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'reader', scopes: ['read'] }) })
    ).json()) as { secret: string };
    const forbidden = await api(`/users/${id}/unlock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}` },
    });
    expect(forbidden.status).toBe(403);
  });

  it('resetting a password clears the failures made against the old one', async () => {
    const { id, username } = await newUser();
    const address = '203.0.113.80';
    expect(await failures(username, address, 6)).toEqual([401, 401, 401, 401, 401, 429]);
    const newPassword = `${PASSWORD}-reset`;
    const reset = await api(`/users/${id}`, { method: 'PATCH', body: JSON.stringify({ password: newPassword }) });
    expect(await reset.json()).toMatchObject({ signInThrottled: false });
    expect((await signIn(username, newPassword, address)).status).toBe(200);
  });
});
