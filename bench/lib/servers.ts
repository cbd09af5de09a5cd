/**
 * The servers a benchmark measures: Witness as `npm start` runs it (wrangler dev: workerd with local D1, R2 and
 * Durable Objects), and the bare Node baseline (bare-server.ts). Each runs in its own process group, so its
 * CPU can be measured and it can be stopped with everything it started.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from './stats.ts';

export const root = path.resolve(import.meta.dirname, '../..');

/**
 * The checkout whose `scripts/start.ts` is benchmarked: this one, or another one (a `git archive` of a
 * commit, say) named by WITNESS_BENCH_SERVER_ROOT, so a half-edited tree need not be the one measured.
 */
export const serverRoot = path.resolve(process.env.WITNESS_BENCH_SERVER_ROOT ?? root);

/** Which code `startWitness` runs: the checkout, and its commit when it is a git work tree. */
export function describeServerCode(): string {
  try {
    const commit = execFileSync('git', ['-C', serverRoot, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync(
      'git',
      ['-C', serverRoot, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench', ':!docs'],
      {
        encoding: 'utf8',
      },
    ).trim();
    return `${serverRoot} at ${commit}${dirty ? ' with uncommitted changes' : ''}`;
  } catch {
    return serverRoot;
  }
}

export interface RunningServer {
  name: string;
  baseUrl: string;
  apiKey: string;
  /** The process whose tree holds the server (for CPU accounting). */
  pid: number;
  /** Labels processes of the tree for CPU reports. */
  label?: (pid: number, comm: string) => string;
  output: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
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

// A benchmark that throws or is interrupted must not leave a server behind.
process.on('exit', killServers);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) killGroup(child, 'SIGKILL');
    process.exit(130);
  });
}

/** Starts `node args…` in `cwd` as the leader of a process group of its own, keeping the last of its output. */
export function spawnGroup(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let output = '';
  // WITNESS_BENCH_SERVER_LOG=FILE keeps every line the servers print, for diagnosing a run.
  const log = process.env.WITNESS_BENCH_SERVER_LOG;
  const keep = (d: Buffer) => {
    output = (output + d).slice(-20_000);
    if (log) appendFileSync(log, d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

/** Stops a group started by spawnGroup: SIGTERM, then SIGKILL to the whole group (workerd, esbuild). */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  killGroup(child, 'SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  // wrangler's children (workerd, esbuild) share the group; make sure none outlives it.
  if (child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.delete(child);
}

/** Waits until `/api/health` answers, or throws with the server's output if it exits or never does. */
export async function waitHealthy(baseUrl: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output()}`);
    const ok = await fetch(`${baseUrl}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${output()}`);
}

/** Starts Witness with `node scripts/start.ts` on a free port, with a fresh state directory. */
export async function startWitness(checkout = serverRoot): Promise<RunningServer> {
  const port = await freePort();
  const state = mkdtempSync(path.join(tmpdir(), 'witness-bench-state-'));
  const apiKey = `bench-${process.pid}-${Date.now()}-key`;
  // The console is not what is measured: reuse a build if there is one.
  const skipBuild = existsSync(path.join(checkout, 'dist/client/index.html')) ? ['--skip-build'] : [];
  const { child, output } = spawnGroup(
    checkout,
    ['scripts/start.ts', '--port', String(port), '--persist-to', state, ...skipBuild],
    { ...process.env, WITNESS_API_KEY: apiKey, WRANGLER_SEND_METRICS: 'false' },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(baseUrl, child, output, 180_000);
  } catch (error) {
    await stopGroup(child);
    rmSync(state, { recursive: true, force: true });
    throw error;
  }
  return {
    name: 'Witness (wrangler dev)',
    baseUrl,
    apiKey,
    pid: child.pid as number,
    label: witnessProcessLabel,
    output,
    stop: async () => {
      await stopGroup(child);
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/**
 * Names wrangler dev's processes: two workerd runtimes (wrangler's proxy on the port start.ts gives wrangler,
 * the Worker's on a random one), the wrangler CLI (node), esbuild, and start.ts itself, which serves the
 * public port as the local edge (scripts/local-edge.ts).
 */
function witnessProcessLabel(pid: number, comm: string): string {
  let args: string[] = [];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return comm;
  }
  if (comm === 'workerd') {
    const entry = args.find((a) => a.startsWith('--socket-addr=entry='))?.slice('--socket-addr=entry='.length);
    return `workerd (listens on ${entry ?? '?'})`;
  }
  if (comm === 'node') {
    if (args.some((a) => a.endsWith('scripts/start.ts'))) return 'node scripts/start.ts (local edge)';
    if (args.some((a) => a.includes('wrangler'))) return 'node wrangler dev';
  }
  return comm;
}

/** Starts the bare Node baseline (bare-server.ts) on a free port, storing pieces in a fresh directory. */
export async function startBare(): Promise<RunningServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-bare-'));
  const { child, output } = spawnGroup(
    root,
    [path.join(import.meta.dirname, 'bare-server.ts'), '--port', String(port), '--dir', dir],
    process.env,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(baseUrl, child, output, 30_000);
  } catch (error) {
    await stopGroup(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    name: 'bare Node',
    baseUrl,
    apiKey: 'bare',
    pid: child.pid as number,
    output,
    stop: async () => {
      await stopGroup(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a server, runs `work` on it, prints the server's last output if `work` fails, and always stops it. */
export async function withServer<T>(
  start: () => Promise<RunningServer>,
  work: (server: RunningServer) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await work(server);
  } catch (error) {
    console.error(`${server.name} failed; its last output:\n${server.output().slice(-6000)}`);
    throw error;
  } finally {
    await server.stop();
  }
}
