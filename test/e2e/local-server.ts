/**
 * A Witness server of a test's own, started as a user starts one (`node scripts/start.ts`, what `npm start`
 * runs), for tests that must stop, restart or watch it: on a free port, with its own state directory, the
 * console as global-setup last built it. `output()` is everything it printed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../support/wait-for.ts';

const root = path.resolve(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface LocalServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Its --persist-to directory. */
  readonly state: string;
  /** What it printed so far (stdout and stderr, in order of arrival). */
  output(): string;
  /**
   * `signal` (SIGTERM by default) to its process group, or with `group: false` to the script alone (as a Ctrl-C
   * in its terminal reaches it); resolves once it exited. Removes the state directory unless `keepState`.
   */
  stop(options?: { keepState?: boolean; signal?: NodeJS.Signals; group?: boolean }): Promise<void>;
}

export interface LocalServerOptions {
  /** Environment over the test's own (WRANGLER_SEND_METRICS is always false). */
  env?: Record<string, string | undefined>;
  /** More arguments for scripts/start.ts (`--skip-build` is always given). */
  args?: string[];
  /** An existing state directory (a restart); a fresh one otherwise. */
  state?: string;
  port?: number;
}

/** Starts the server and waits until `/api/health` answers (or the server exits, with its output). */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const port = options.port ?? (await freePort());
  const state = options.state ?? mkdtempSync(path.join(tmpdir(), 'witness-e2e-server-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, WRANGLER_SEND_METRICS: 'false' };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[name];
  const child = spawn(
    process.execPath,
    ['scripts/start.ts', '--port', String(port), '--persist-to', state, '--skip-build', ...(options.args ?? [])],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: LocalServer = {
    child,
    port,
    baseUrl,
    state,
    output: () => output,
    async stop({ keepState = false, signal = 'SIGTERM', group = true } = {}) {
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(group ? -child.pid : child.pid, signal);
        } catch {
          child.kill(signal);
        }
        await exited;
      }
      if (!keepState) rmSync(state, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      'the test server to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
        return fetch(`${baseUrl}/api/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 150_000, intervalMs: 250 },
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
