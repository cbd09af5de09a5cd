import { env } from 'cloudflare:workers';
import { importJWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorCode, request } from './helpers.ts';

const TEAM = 'https://witness-test.cloudflareaccess.com';
const AUD = 'witness-test-aud';

async function accessJwt(claims: { email: string; aud?: string; iss?: string; expiresIn?: string }): Promise<string> {
  const jwk = JSON.parse((env as unknown as { TEST_ACCESS_PRIVATE_JWK: string }).TEST_ACCESS_PRIVATE_JWK);
  const key = await importJWK(jwk, 'RS256');
  return new SignJWT({ email: claims.email })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(claims.iss ?? TEAM)
    .setAudience(claims.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '5m')
    .sign(key);
}

const viaAccess = (jwt: string, path: string, init: RequestInit = {}) =>
  request(`/api/v1${path}`, {
    ...init,
    headers: { 'cf-access-jwt-assertion': jwt, ...Object.fromEntries(new Headers(init.headers)) },
  });

describe('Cloudflare Access', () => {
  beforeAll(async () => {
    const res = await api('/users', {
      method: 'POST',
      body: JSON.stringify({
        username: 'Carol@Example.com',
        password: 'a-long-enough-password-1',
        permissions: ['sessions:monitor'],
      }),
    });
    expect(res.status).toBe(201);
  });

  it('signs in the Witness user named by a valid Access JWT, with their permissions', async () => {
    const jwt = await accessJwt({ email: 'carol@example.com' });
    expect((await viaAccess(jwt, '/sessions')).status).toBe(200);
    expect((await viaAccess(jwt, '/users')).status).toBe(403);
    const me = (await (await viaAccess(jwt, '/auth/me')).json()) as { name: string; csrfToken: string };
    expect(me.name).toBe('Carol@Example.com');
    expect(me.csrfToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['another audience', { email: 'carol@example.com', aud: 'someone-else' }],
    ['another issuer', { email: 'carol@example.com', iss: 'https://evil.cloudflareaccess.com' }],
    ['an expired token', { email: 'carol@example.com', expiresIn: '-1m' }],
  ])('refuses %s', async (_name, claims) => {
    const res = await viaAccess(await accessJwt(claims), '/sessions');
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('invalid_access_token');
  });

  it('refuses a forged signature and an email without an account', async () => {
    const jwt = await accessJwt({ email: 'carol@example.com' });
    const [h, p] = jwt.split('.');
    const forged = `${h}.${p}.${'A'.repeat(342)}`;
    expect((await viaAccess(forged, '/sessions')).status).toBe(401);
    const stranger = await viaAccess(await accessJwt({ email: 'mallory@example.com' }), '/sessions');
    expect(stranger.status).toBe(403);
    expect(await errorCode(stranger)).toBe('no_account');
  });

  it('writes need the CSRF token from /auth/me', async () => {
    const admin = await api('/users', {
      method: 'POST',
      body: JSON.stringify({
        username: 'dave@example.com',
        password: 'a-long-enough-password-1',
        permissions: ['recording:administer'],
      }),
    });
    expect(admin.status).toBe(201);
    const jwt = await accessJwt({ email: 'dave@example.com' });
    const body = JSON.stringify({ keystrokesEnabled: false });
    const headers = { 'content-type': 'application/json' };
    expect((await viaAccess(jwt, '/settings/recording', { method: 'PUT', body, headers })).status).toBe(403);
    const { csrfToken } = (await (await viaAccess(jwt, '/auth/me')).json()) as { csrfToken: string };
    const ok = await viaAccess(jwt, '/settings/recording', {
      method: 'PUT',
      body,
      headers: { ...headers, 'x-csrf-token': csrfToken },
    });
    expect(ok.status).toBe(200);
  });
});
