/**
 * Witness as `npm start` runs it (scripts/start.ts → wrangler dev), on a state directory the caller owns, so
 * the search benchmark can stop the server, write to its local D1 file, and start it again on the same state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { sleep } from '../lib/stats.ts';

/**
 * The checkout whose server is measured: this one, or another named by WITNESS_BENCH_SERVER_ROOT (a `git
 * archive` of a commit, say), so edits made elsewhere in this tree during a run neither change the code
 * measured nor make wrangler dev reload the worker mid-request.
 */
export const serverRoot = path.resolve(
  process.env.WITNESS_BENCH_SERVER_ROOT ?? path.join(import.meta.dirname, '../..'),
);

export interface WitnessServer {
  baseUrl: string;
  /** The process group leader (node scripts/start.ts); wrangler and workerd are in its group. */
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Kills every server this process started, at once (for exits and interrupts). */
export function killServers(): void {
  for (const child of running) killGroup(child, 'SIGKILL');
}

// A failed run must not leave a server behind.
process.on('exit', killServers);

/** Starts Witness on a free port over `stateDir` and waits for `/api/health`. */
export async function startWitness(
  stateDir: string,
  secrets: { apiKey: string; adminPassword: string },
): Promise<WitnessServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['scripts/start.ts', '--port', String(port), '--persist-to', stateDir, '--skip-build'],
    {
      cwd: serverRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WITNESS_API_KEY: secrets.apiKey,
        WITNESS_ADMIN_PASSWORD: secrets.adminPassword,
        WRANGLER_SEND_METRICS: 'false',
      },
    },
  );
  running.add(child);
  child.on('exit', () => running.delete(child));
  let output = '';
  // WITNESS_BENCH_SERVER_LOG=FILE keeps every line the server prints, for diagnosing a run.
  const log = process.env.WITNESS_BENCH_SERVER_LOG;
  const keep = (d: Buffer) => {
    output = (output + d).slice(-20_000);
    if (log) appendFileSync(log, d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const stop = async () => {
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    killGroup(child, 'SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    // workerd and esbuild share the group; none may outlive it (and hold the D1 file open).
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    running.delete(child);
    await sleep(500);
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output}`);
    const ok = await fetch(`${baseUrl}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server not healthy after 180 s:\n${output}`);
    }
    await sleep(250);
  }
  return { baseUrl, pid: child.pid as number, output: () => output, stop };
}

/** The local D1 database of the `DB` binding (the only D1 binding) under a wrangler state directory. */
export function localD1File(stateDir: string): string {
  const dir = path.join(stateDir, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (files.length !== 1) throw new Error(`expected one D1 database under ${dir}, found ${files.join(', ') || 'none'}`);
  return path.join(dir, files[0] as string);
}
