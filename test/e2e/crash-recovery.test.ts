/**
 * A crash takes the server and the launcher down at once (a host or network outage): kill -9 of both while a
 * session records. After the server comes back on the same state, the session must end as `launcher_lost`
 * once the launcher grace has passed (not wait for the inactivity timeout or the maximum length), be sealed,
 * and its evidence must verify offline, the recording against the chain without the pieces.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { fetchEvidence, root } from './helpers.ts';
import { freePort, type LocalServer, startLocalServer } from './local-server.ts';

const API_KEY = 'e2e-crash-key-0123456789abcdef';
const state = mkdtempSync(path.join(tmpdir(), 'witness-e2e-crash-'));
const children: ChildProcess[] = [];

function killGroup(child: ChildProcess): void {
  if (!child.pid || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** `npm start`'s script on its own port and state, in its own process group (so kill -9 takes workerd too). */
async function startServer(port: number): Promise<LocalServer> {
  const server = await startLocalServer({
    port,
    state,
    env: { WITNESS_API_KEY: API_KEY, WITNESS_ADMIN_PASSWORD: 'e2e-crash-admin-123' },
  });
  children.push(server.child);
  return server;
}

afterAll(() => {
  for (const child of children) killGroup(child);
  rmSync(state, { recursive: true, force: true });
});

describe('a crash of the server and the launcher together', () => {
  it('ends the session as launcher_lost after the grace, seals it, and the evidence verifies', async () => {
    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    const api = (p: string) => fetch(`${server}/api/v1${p}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const first = await startServer(port);

    const spool = mkdtempSync(path.join(tmpdir(), 'witness-e2e-crash-spool-'));
    const launcher = spawn(
      process.execPath,
      [
        path.join(root, 'agents/launcher/bin/witness-launcher.mjs'),
        'launch',
        ...['--server', server, '--api-key', API_KEY, '--spool', spool],
        ...['--user', 'crash', '--target', 'crash-host', '--source', 'testsrc'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    children.push(launcher);
    let launcherOutput = '';
    launcher.stdout?.on('data', (d) => (launcherOutput += d));
    launcher.stderr?.on('data', (d) => (launcherOutput += d));
    const sessionId = await waitFor('the launcher to print its session', async () => {
      if (launcher.exitCode !== null) throw new Error(`the launcher exited:\n${launcherOutput}`);
      return launcherOutput.match(/session ([0-9a-f-]{36})/)?.[1];
    });
    await waitFor('a few pieces to be stored', async () => {
      const view = (await (await api(`/sessions/${sessionId}`)).json()) as { recording: { pieces: number } };
      return view.recording.pieces >= 4;
    });

    // The outage: both die at once, no close frame, no `end`.
    killGroup(launcher);
    killGroup(first.child);
    await waitFor(
      'the server to be gone',
      async () => first.child.exitCode !== null || first.child.signalCode !== null,
    );

    await startServer(port);
    // The session's policy keeps inactivity at 15 min and the maximum at 8 h: only the launcher check can end
    // it within this wait (LAUNCHER_GRACE_SECONDS is 60 in wrangler.jsonc).
    const ended = await waitFor(
      'the session to end',
      async () => {
        const view = (await (await api(`/sessions/${sessionId}`)).json()) as { status: string; endReason: string };
        return view.status === 'ended' ? view : null;
      },
      { timeoutMs: 150_000 },
    );
    expect(ended.endReason).toBe('launcher_lost');
    const sealed = await waitFor(
      'the recording to be sealed',
      async () => {
        const view = (await (await api(`/sessions/${sessionId}`)).json()) as { recording: { status: string } };
        return ['ready', 'failed', 'empty'].includes(view.recording.status) ? view.recording : null;
      },
      { timeoutMs: 120_000 },
    );
    expect(sealed.status).toBe('ready');

    // Offline: the signed manifest, and the recording checked against the chain without the pieces.
    const evidence = fetchEvidence(sessionId, server, API_KEY);
    expect(evidence.fetched.status, evidence.fetched.stderr).toBe(0);
    const verified = evidence.verify();
    expect(verified.stdout).toMatch(/ok {4}contents/);
    expect(verified.stdout.trim().split('\n').at(-1)).toBe('VERIFIED');
    expect(verified.status).toBe(0);
    expect(readFileSync(path.join(evidence.dir, 'recording.webm')).byteLength).toBeGreaterThan(1000);
    evidence.remove();
    rmSync(spool, { recursive: true, force: true });
  });
});
