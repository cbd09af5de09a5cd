import { describe, expect, it } from 'vitest';
import { api, errorCode, launch } from './helpers.ts';

describe('POST /api/v1/launches', () => {
  it('creates a pending session with a policy snapshot and a session-scoped token', async () => {
    const before = Date.now();
    const launched = await launch({ protocol: 'rdp', policy: { inactivityTimeoutMs: 60_000 } });
    const after = Date.now();
    expect(launched.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(launched.token.startsWith(`wt1.${launched.sessionId}.`)).toBe(true);
    // The token lives INGEST_TOKEN_TTL_SECONDS (900) from the launch, in whole seconds (its expiry is in seconds).
    const expires = Date.parse(launched.expiresAt);
    expect(expires % 1000).toBe(0);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 900_000);
    expect(expires).toBeLessThanOrEqual(after + 900_000);

    const res = await api(`/sessions/${launched.sessionId}`);
    expect(res.status).toBe(200);
    const session = (await res.json()) as { recording: { status: string } };
    expect(session).toMatchObject({
      id: launched.sessionId,
      user: 'alice',
      target: 'db-01.prod',
      protocol: 'rdp',
      status: 'pending',
      endReason: null,
      policy: {
        recordingEnabled: true,
        keystrokesEnabled: true,
        inactivityTimeoutMs: 60_000,
        maxSessionLengthMs: 28_800_000,
      },
    });
    expect(session.recording.status).toBe('recording');
  });

  it('snapshots the settings in force at launch, unaffected by later changes', async () => {
    const put = await api('/settings/recording', {
      method: 'PUT',
      body: JSON.stringify({ maxSessionLengthMs: 3_600_000 }),
    });
    expect(put.status).toBe(200);
    const first = await launch();
    await api('/settings/recording', { method: 'PUT', body: JSON.stringify({ maxSessionLengthMs: 60_000 }) });
    const session = (await (await api(`/sessions/${first.sessionId}`)).json()) as {
      policy: { maxSessionLengthMs: number };
    };
    expect(session.policy.maxSessionLengthMs).toBe(3_600_000);
  });

  it.each([
    ['no credentials', {}, 401, 'unauthenticated'],
    ['a wrong API key', { authorization: 'Bearer nope' }, 401, 'invalid_api_key'],
  ])('refuses %s', async (_name, headers, status, code) => {
    const res = await api('/launches', { method: 'POST', headers: { authorization: '', ...headers }, body: '{}' });
    expect(res.status).toBe(status);
    expect(await errorCode(res)).toBe(code);
  });

  it.each([
    ['malformed JSON', '{"user": ', 400, 'bad_request', 'Malformed JSON in request body'],
    [
      'a missing target',
      JSON.stringify({ user: 'a' }),
      400,
      'invalid_json',
      'target: Invalid input: expected string, received undefined',
    ],
    [
      'an unknown field',
      JSON.stringify({ user: 'a', target: 'b', admin: true }),
      400,
      'invalid_json',
      'Unrecognized key: "admin"',
    ],
    [
      'an unknown protocol',
      JSON.stringify({ user: 'a', target: 'b', protocol: 'telnet' }),
      400,
      'invalid_json',
      'protocol: Invalid option: expected one of "desktop"|"rdp"|"ssh"|"console"|"vnc"|"web"|"other"',
    ],
    [
      'a negative timeout',
      JSON.stringify({ user: 'a', target: 'b', policy: { inactivityTimeoutMs: -1 } }),
      400,
      'invalid_json',
      'policy.inactivityTimeoutMs: Too small: expected number to be >=0',
    ],
    [
      'an oversized body',
      JSON.stringify({ user: 'a', target: 'b'.repeat(70_000) }),
      413,
      'body_too_large',
      'Request bodies may be at most 65536 bytes.',
    ],
  ])('answers %s with a JSON 4xx naming the problem', async (_name, body, status, code, message) => {
    const res = await api('/launches', { method: 'POST', body });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ error: { code, message } });
  });
});
