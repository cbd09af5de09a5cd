/**
 * How the launcher captured processes (`capture` on the control socket): stored on the session's row, the last
 * word winning, served by the session view; malformed statuses refused and nothing stored.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { api, connectLauncher, launch } from './helpers.ts';

function captureInD1(id: string): Promise<unknown> {
  return env.DB.prepare('SELECT capture FROM sessions WHERE id = ?1')
    .bind(id)
    .first<{ capture: string | null }>()
    .then((row) => (row?.capture ? JSON.parse(row.capture) : null));
}

describe('the session’s capture status', () => {
  it('stores the method and the excluded count, the last status sent winning, and serves them', async () => {
    const s = await launch();
    const socket = await connectLauncher(s);
    expect(await captureInD1(s.sessionId)).toBeNull();
    const send = (processes: Record<string, unknown>) =>
      socket.ws.send(JSON.stringify({ type: 'capture', capture: { processes } }));
    send({ method: 'netlink', excluded: 0, lost: 0 });
    send({ method: 'netlink', excluded: 2, lost: 0 });
    send({ method: 'poll', pollMs: 50, excluded: 7, lost: 1, detail: 'the process-event helper stopped: exit 1' });
    const last = {
      processes: {
        method: 'poll',
        pollMs: 50,
        excluded: 7,
        lost: 1,
        detail: 'the process-event helper stopped: exit 1',
      },
    };
    await waitFor(
      'the last status in D1',
      async () => JSON.stringify(await captureInD1(s.sessionId)) === JSON.stringify(last),
    );
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { capture: unknown };
    expect(view.capture).toEqual(last);
    socket.ws.close();
  });

  it('refuses a status that is not one, and keeps what was stored', async () => {
    const s = await launch();
    const socket = await connectLauncher(s);
    socket.ws.send(JSON.stringify({ type: 'capture', capture: { processes: { method: 'none', excluded: 0 } } }));
    await waitFor('the first status', async () => (await captureInD1(s.sessionId)) !== null);
    for (const processes of [
      { method: 'ebpf', excluded: 0 },
      { method: 'netlink', excluded: -1 },
      { method: 'poll', pollMs: 0, excluded: 0 },
      { method: 'netlink', excluded: 0, detail: 'x'.repeat(501) },
      { method: 'netlink', excluded: 0, extra: true },
    ]) {
      socket.ws.send(JSON.stringify({ type: 'capture', capture: { processes } }));
      expect(await socket.nextJson()).toMatchObject({ type: 'error', code: 'invalid_message' });
    }
    expect(await captureInD1(s.sessionId)).toEqual({ processes: { method: 'none', excluded: 0 } });
    socket.ws.close();
  });
});
