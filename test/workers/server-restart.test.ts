/**
 * `POST /api/v1/server/restarting`: with the restart key derived from WITNESS_TOKEN_SECRET, every live viewer
 * gets a 1012 close ("server restarting") and the session itself goes on; without it, nothing happens.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { SERVER_RESTART_KEY_CONTEXT, SERVER_RESTART_PATH } from '../../protocol/server-restart.ts';
import { CloseCode } from '../../protocol/version.ts';
import { hmacHex } from '../../worker/auth/secrets.ts';
import { API_KEY, api, connectLauncher, errorCode, launch, openSocket, request } from './helpers.ts';

function restarting(bearer: string | null): Promise<Response> {
  return request(SERVER_RESTART_PATH, {
    method: 'POST',
    headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
  });
}

describe('POST /api/v1/server/restarting', () => {
  it('closes every live viewer with 1012 and leaves the session and its launcher alone', async () => {
    const active = await launch();
    const launcher = await connectLauncher(active);
    const pending = await launch();
    const viewers = [
      await openSocket(`/api/v1/sessions/${active.sessionId}/live`, API_KEY),
      await openSocket(`/api/v1/sessions/${active.sessionId}/live?tab=another-tab`, API_KEY),
      await openSocket(`/api/v1/sessions/${pending.sessionId}/live`, API_KEY),
    ];
    for (const viewer of viewers) expect(await viewer.nextJson()).toMatchObject({ type: 'hello' });

    const res = await restarting(await hmacHex(env.WITNESS_TOKEN_SECRET, SERVER_RESTART_KEY_CONTEXT));
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { sessions: number; viewers: number };
    expect(reply.sessions).toBeGreaterThanOrEqual(2);
    expect(reply.viewers).toBeGreaterThanOrEqual(3);
    for (const viewer of viewers) {
      expect(await viewer.closed).toEqual({ code: CloseCode.serverRestart, reason: 'server restarting' });
    }

    // The session is still live: the launcher's socket is open and a viewer can join again.
    expect(launcher.ws.readyState).toBe(WebSocket.OPEN);
    const again = await openSocket(`/api/v1/sessions/${active.sessionId}/live`, API_KEY);
    expect(await again.nextJson()).toMatchObject({ type: 'hello', status: 'active' });
  });

  it.each([
    ['no credential', null, 'unauthenticated'],
    ['an API key', API_KEY, 'invalid_restart_key'],
    ['the token secret itself', 'WITNESS_TOKEN_SECRET', 'invalid_restart_key'],
  ])('refuses %s with a 401 and closes nothing', async (_name, credential, code) => {
    const bearer = credential === 'WITNESS_TOKEN_SECRET' ? env.WITNESS_TOKEN_SECRET : credential;
    const s = await launch();
    const viewer = await openSocket(`/api/v1/sessions/${s.sessionId}/live`, API_KEY);
    await viewer.nextJson();
    const res = await restarting(bearer);
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe(code);
    viewer.ws.send('ping');
    expect(await viewer.next()).toBe('pong');
    expect((await api(`/sessions/${s.sessionId}`)).status).toBe(200);
  });
});
