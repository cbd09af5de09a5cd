/**
 * The alert on the user's screen: an administrator's message and a terminate reach the real launcher on the
 * e2e X display as a window with the administrator's text (found with xdotool, read with xprop), the way the
 * user sees them.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { api, display, runLauncher, session } from './helpers.ts';

const marker = `dlg${Date.now().toString(36)}`;
const env = { ...process.env, DISPLAY: display };

/** Text of every window titled "Witness" (the dialog's arguments, as the X server holds them). */
function witnessDialogs(): string[] {
  let ids: string[] = [];
  try {
    ids = execFileSync('xdotool', ['search', '--name', '^Witness$'], { env, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // xdotool exits 1 when nothing matches
  }
  return ids.map((id) => {
    try {
      return execFileSync('xprop', ['-id', id, 'WM_COMMAND'], { env, encoding: 'utf8' });
    } catch {
      return ''; // closed meanwhile
    }
  });
}

afterAll(() => {
  try {
    execFileSync('pkill', ['-f', marker]);
  } catch {
    // none left
  }
});

describe('the alert dialog on the user’s screen', () => {
  it('shows an admin message, then the terminate message, each in a window with its text', async () => {
    const launcher = runLauncher([
      '--user',
      'e2e-dialog',
      '--target',
      'xvfb-dialog',
      '--source',
      'x11',
      '--seconds',
      '120',
    ]);
    const sessionId = await launcher.sessionId;
    await waitFor('the session to be active', async () => (await session(sessionId)).status === 'active');

    const text = `Heads up ${marker}: change freeze at 17:00.`;
    const sent = await api(`/sessions/${sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'message', message: text }),
    });
    expect(await sent.json()).toMatchObject({ delivered: true });
    await waitFor('a window with the message', () => witnessDialogs().some((w) => w.includes(text)), {
      timeoutMs: 15_000,
      detail: () => `windows: ${JSON.stringify(witnessDialogs())}; launcher: ${launcher.output()}`,
    });

    const stop = `Terminated ${marker}: unapproved change.`;
    const ended = await api(`/sessions/${sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: stop }),
    });
    expect(await ended.json()).toMatchObject({ delivered: true, status: 'ended' });
    await waitFor('a window with the terminate message', () => witnessDialogs().some((w) => w.includes(stop)), {
      timeoutMs: 15_000,
      detail: () => `windows: ${JSON.stringify(witnessDialogs())}`,
    });
    expect((await launcher.exit).code).toBe(3);
  });
});
