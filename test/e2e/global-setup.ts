/**
 * Starts what the end-to-end tests need, as a user would: an X display (Xvfb) and the dev server through
 * `npm start`'s script, with its own state directory and port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { waitFor } from '../support/wait-for.ts';

const root = path.resolve(import.meta.dirname, '../..');
export const E2E_API_KEY = 'e2e-bootstrap-key-0123456789';
/** The console account `admin` is created with this password at the first sign-in (no forced change). */
export const E2E_ADMIN_PASSWORD = 'e2e-admin-password-123';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function freeDisplay(): number {
  for (let n = 90; n < 200; n++) if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  throw new Error('no free X display');
}

function stop(child: ChildProcess | undefined): void {
  if (child?.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  }
}

export default async function setup(project: TestProject) {
  const display = freeDisplay();
  const xvfb = spawn('Xvfb', [`:${display}`, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], {
    stdio: 'ignore',
    detached: true,
  });
  await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display}`), { timeoutMs: 20_000 });

  const port = await freePort();
  const state = mkdtempSync(path.join(tmpdir(), 'witness-e2e-state-'));
  const server = spawn(process.execPath, ['scripts/start.ts', '--port', String(port), '--persist-to', state], {
    cwd: root,
    env: {
      ...process.env,
      WITNESS_API_KEY: E2E_API_KEY,
      WITNESS_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
      WITNESS_ADMIN_PASSWORD_ONE_TIME: '0',
      WRANGLER_SEND_METRICS: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  server.stdout?.on('data', (d) => (output += d));
  server.stderr?.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'the dev server',
      async () => {
        if (server.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
        return fetch(`${baseUrl}/api/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 150_000, intervalMs: 250 },
    );
  } catch (error) {
    stop(server);
    stop(xvfb);
    throw error;
  }

  project.provide('e2e', {
    baseUrl,
    apiKey: E2E_API_KEY,
    adminPassword: E2E_ADMIN_PASSWORD,
    display: `:${display}`,
    state,
  });
  return () => {
    stop(server);
    stop(xvfb);
    rmSync(state, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** `state`: the server's --persist-to directory (its local D1, R2 and Durable Objects). */
    e2e: { baseUrl: string; apiKey: string; adminPassword: string; display: string; state: string };
  }
}
