/**
 * Inactivity end to end on Linux: the real launcher on the e2e X display reports the user's input (xprintidle),
 * so a session kept busy with the mouse outlives its inactivity timeout, and once the input stops it ends as
 * `inactivity_timeout` — pieces alone (the screen still changes) do not count as the user's activity.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { api, baseUrl, display, kill, root, session } from './helpers.ts';

/** Longer than the launcher's 10 s between two `activity` messages and its 5 s poll together. */
const TIMEOUT_MS = 20_000;

describe('inactivity timeout with the real launcher', () => {
  it('holds while the user moves the mouse, and ends the session once they stop', async () => {
    const res = await api('/launches', {
      method: 'POST',
      body: JSON.stringify({ user: 'e2e-idle', target: 'xvfb-idle', policy: { inactivityTimeoutMs: TIMEOUT_MS } }),
    });
    expect(res.status).toBe(201);
    const { sessionId, token } = (await res.json()) as { sessionId: string; token: string };
    const launcher = spawn(
      process.execPath,
      [
        path.join(root, 'agents/launcher/bin/witness-launcher.mjs'),
        'record',
        '--server',
        baseUrl,
        '--session',
        sessionId,
        '--token',
        token,
        '--source',
        'x11',
        '--spool',
        mkdtempSync(path.join(tmpdir(), 'witness-e2e-idle-')),
        '--verbose',
      ],
      { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    launcher.stdout?.on('data', (d: Buffer) => (output += d));
    launcher.stderr?.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => launcher.on('exit', resolve));
    try {
      await waitFor('the session to start', async () => (await session(sessionId)).status === 'active', {
        detail: () => output,
      });
      const startedAt = Date.now();
      // Input for well past the timeout: the mouse moves a little every second.
      let x = 10;
      await waitFor(
        'input for longer than the inactivity timeout',
        async () => {
          x = x === 10 ? 20 : 10;
          execFileSync('xdotool', ['mousemove', String(x), String(x)], { env: { ...process.env, DISPLAY: display } });
          expect((await session(sessionId)).status, output).toBe('active');
          return Date.now() - startedAt > TIMEOUT_MS * 1.5;
        },
        { timeoutMs: TIMEOUT_MS * 3, intervalMs: 1_000 },
      );
      // No more input: the session ends, as inactive, and the launcher is told.
      const ended = await waitFor(
        'the session to end without input',
        async () => {
          const view = await session(sessionId);
          return view.status === 'ended' && view;
        },
        { timeoutMs: TIMEOUT_MS * 4, detail: () => output },
      );
      expect(ended.endReason).toBe('inactivity_timeout');
      await exited;
      expect(output).toMatch(/inactivity_timeout/);
    } finally {
      kill(launcher);
    }
  });
});
