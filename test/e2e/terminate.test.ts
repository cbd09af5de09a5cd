import { describe, expect, it } from 'vitest';
import { api, runLauncher, session } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';

describe('message and terminate reach the real launcher', () => {
  it('shows a message, then terminate ends the launcher with the admin message and a non-zero exit', async () => {
    const launcher = runLauncher(['--user', 'contractor', '--target', 'db-02', '--source', 'x11', '--seconds', '120']);
    const sessionId = await launcher.sessionId;
    await waitFor('the session to be active with a piece stored', async () => {
      const view = await session(sessionId);
      return view.status === 'active' && view.recording.pieces >= 2;
    });

    const message = await api(`/sessions/${sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'message', message: 'Heads up: change freeze at 17:00.' }),
    });
    expect(await message.json()).toEqual({ delivered: true, status: 'active', endReason: null });
    await waitFor(
      'the message to be printed',
      async () => launcher.output().includes('Heads up: change freeze at 17:00.'),
      { timeoutMs: 10_000 },
    );

    const terminated = await api(`/sessions/${sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: 'Terminated by security: unapproved change.' }),
    });
    expect(await terminated.json()).toEqual({ delivered: true, status: 'ended', endReason: 'terminated_by_admin' });

    const { code, stdout, stderr } = await launcher.exit;
    expect(code).toBe(3);
    expect(`${stdout}${stderr}`).toContain('Terminated by security: unapproved change.');

    // What was recorded up to the termination is kept and sealed.
    const sealed = await waitFor('the recording to be sealed', async () => {
      const view = await session(sessionId);
      return view.recording.status === 'ready' ? view : null;
    });
    expect(sealed).toMatchObject({ status: 'ended', endReason: 'terminated_by_admin' });
    expect(sealed.recording.missingPieces).toEqual([]);
  });
});
