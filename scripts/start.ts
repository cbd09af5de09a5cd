/**
 * `npm start`: everything on one machine. Builds the console, applies D1 migrations to the local database,
 * then runs wrangler dev (which simulates D1, R2 and Durable Objects, keeping state in .wrangler/state) on a
 * loopback port of its own (wrangler-dev.ts), behind the local edge (local-edge.ts) that serves --port, bounds
 * every request and sends it straight to the Worker's workerd, wherever wrangler has it after its last reload.
 *
 *   npm start -- [--port 8787] [--persist-to DIR] [--no-processor] [--verbose]
 *
 * The screen gets a short account (scripts/start-output.ts): what was applied, the URL, the admin account; the
 * full output of vite, wrangler and the processor goes to `witness.log` in the state directory (.wrangler/ or
 * --persist-to), and to the screen as well with --verbose.
 *
 * Secrets: WITNESS_TOKEN_SECRET and WITNESS_SIGNING_KEY (Ed25519, signs evidence manifests) are generated once
 * into .dev.vars; WITNESS_API_KEY, if set in the environment, becomes the bootstrap API key (every scope).
 * The console account `admin` is created at the first sign-in with WITNESS_ADMIN_PASSWORD, or, when that is not
 * set, with a one-time password printed here (to be changed at first sign-in).
 *
 * When ffmpeg is on the PATH, one `witness-processor` runs beside the server (agents/processor), so recordings are
 * converted to MP4 with no further command; it signs in with the local processor key (protocol/processing.ts).
 *
 * Ctrl-C or SIGTERM first tells the live viewers that the server is restarting (close 1012, so the console
 * says so and reconnects), then stops wrangler.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findExecutable } from '../agents/launcher/src/which.ts';
import { witnessVersion } from '../agents/shared/version.ts';
import { LOCAL_PROCESSOR_KEY_CONTEXT, LOCAL_PROCESSOR_KEY_PREFIX } from '../protocol/processing.ts';
import { SERVER_RESTART_KEY_CONTEXT, SERVER_RESTART_PATH } from '../protocol/server-restart.ts';
import { startLocalEdge } from './local-edge.ts';
import { appliedMigrations, framed, startOutput, worthShowing } from './start-output.ts';
import { WorkerAddress } from './worker-address.ts';
import type { WranglerDevMessage } from './wrangler-dev.ts';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8787' },
    'persist-to': { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    'no-processor': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm start -- [options]: Witness on this machine (console, API, D1, R2 and Durable Objects in wrangler dev)

  --port N           the port the console and the API answer on (default 8787, or $PORT)
  --persist-to DIR   keep the local database and recordings in DIR (default .wrangler/state)
  --no-processor     do not run the MP4 processor beside the server
  --skip-build       serve the console as last built
  --verbose          print everything vite, wrangler and the processor say (always kept in witness.log)

Environment: WITNESS_ADMIN_PASSWORD (the first admin's password; otherwise a one-time one is printed),
WITNESS_API_KEY (a bootstrap API key with every scope).`);
  process.exit(0);
}
const persistDir = values['persist-to'] ? path.resolve(values['persist-to']) : null;
const persist = persistDir ? ['--persist-to', persistDir] : [];
// Local dev needs no real `Request.cf` (wrangler fetches one from the internet at every reload, and prints a
// stack trace each time it can't).
const env = { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false' };
const out = startOutput(path.join(persistDir ?? path.join(root, '.wrangler'), 'witness.log'), values.verbose);
out.say(`Witness ${witnessVersion()}: starting on this machine (wrangler dev: local D1, R2 and Durable Objects)`);

/** Runs a tool to completion, its output to the log; on failure its last lines go on screen too. */
function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  out.tool(path.basename(command), output);
  if (result.status !== 0) {
    out.block(output.trim().split('\n').slice(-20).join('\n'));
    out.say(
      `${path.basename(command)} ${args.join(' ')} failed (exit ${result.status}); the full output is in ${out.file}`,
    );
    process.exit(result.status ?? 1);
  }
  return output;
}

/** Adds `name=value()` to .dev.vars unless a line matching `present` is there already. */
function ensureDevSecret(name: string, present: RegExp, value: () => string): string | null {
  const file = path.join(root, '.dev.vars');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (present.test(current)) return null;
  const line = `${name}=${value()}\n`;
  writeFileSync(file, current + (current && !current.endsWith('\n') ? '\n' : '') + line, { mode: 0o600 });
  return name;
}

const generated = [
  ensureDevSecret('WITNESS_TOKEN_SECRET', /^WITNESS_TOKEN_SECRET=.{32,}$/m, () => randomBytes(32).toString('hex')),
  ensureDevSecret('WITNESS_SIGNING_KEY', /^WITNESS_SIGNING_KEY=\S+$/m, () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  ),
].filter(Boolean);
if (generated.length) out.say(`generated ${generated.join(' and ')} into .dev.vars (kept for the next start)`);
const wrangler = path.join(root, 'node_modules', '.bin', 'wrangler');
if (!values['skip-build'])
  run(path.join(root, 'node_modules', '.bin', 'vite'), [
    'build',
    '--config',
    'client/vite.config.ts',
    '--logLevel',
    'warn',
  ]);
const applied = appliedMigrations(run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', ...persist]));
if (applied === null) out.say(`database migrated (wrangler's account is in ${out.file})`);
else if (applied.length === 0) out.say('database up to date (no migrations to apply)');
else
  out.say(
    `database: applied ${applied.length} migration${applied.length === 1 ? '' : 's'} (${
      applied.length === 1 ? applied[0] : `${applied[0]} … ${applied.at(-1)}`
    })`,
  );

/** Whether the local database already has its first admin (see worker/auth/bootstrap.ts). */
function adminExists(): boolean {
  const result = spawnSync(
    wrangler,
    [
      'd1',
      'execute',
      'DB',
      '--local',
      ...persist,
      '--json',
      '--command',
      "SELECT 1 FROM settings WHERE key = 'bootstrap.admin'",
    ],
    { cwd: root, env, encoding: 'utf8' },
  );
  if (result.status !== 0) return false;
  const rows = JSON.parse(result.stdout) as Array<{ results: unknown[] }>;
  return (rows[0]?.results.length ?? 0) > 0;
}

function adminPassword(): { password: string; oneTime: boolean } {
  if (process.env.WITNESS_ADMIN_PASSWORD) return { password: process.env.WITNESS_ADMIN_PASSWORD, oneTime: false };
  if (adminExists()) return { password: '', oneTime: false };
  return { password: randomBytes(12).toString('base64url'), oneTime: true };
}

const admin = adminPassword();
const apiKey = process.env.WITNESS_API_KEY ?? '';
// The secrets for this run: .dev.vars (the persistent ones) plus those that come from the environment.
const secretsFile = path.join(root, '.wrangler', 'dev-secrets.env');
mkdirSync(path.dirname(secretsFile), { recursive: true });
const secrets = [
  readFileSync(path.join(root, '.dev.vars'), 'utf8').trim(),
  `WITNESS_API_KEY=${apiKey}`,
  `WITNESS_ADMIN_PASSWORD=${admin.password}`,
  `WITNESS_ADMIN_PASSWORD_ONE_TIME=${admin.oneTime ? '1' : '0'}`,
];
writeFileSync(secretsFile, `${secrets.join('\n')}\n`, { mode: 0o600 });
/** A free loopback port for wrangler dev's ProxyWorker: nothing but tellViewers below uses it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
let announced = false;
/** Once the Worker answers: where, and with which account, framed so it can't be missed. */
function announce(): void {
  announced = true;
  const url = `http://127.0.0.1:${values.port}`;
  const account = admin.oneTime
    ? [`Sign in as admin with the one-time password:  ${admin.password}`, 'You choose your own password right after.']
    : admin.password
      ? ['Sign in as admin with WITNESS_ADMIN_PASSWORD.']
      : ['Sign in with your account (admin exists already).'];
  out.say('ready');
  out.block(framed([`Witness is running at  ${url}`, ...account]));
  if (!apiKey) out.say('no WITNESS_API_KEY: create API keys for launchers in the console (Keys)');
}

const wranglerPort = await freePort();
// In a terminal, wrangler gets a process group of its own: a Ctrl-C there reaches this script only, which
// tells the live viewers that the server is restarting (while it still runs), then stops wrangler and what it
// started. Under a supervisor or a test (no terminal) it stays in ours, so that killing the group, even with
// SIGKILL, takes workerd down too; a signal to this script alone tells the viewers all the same.
const ownGroup = process.stdin.isTTY === true;
const dev = spawn(
  process.execPath,
  [
    path.join(import.meta.dirname, 'wrangler-dev.ts'),
    '--port',
    String(wranglerPort),
    '--env-file',
    secretsFile,
    ...persist,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env, detached: ownGroup },
);
dev.stdout?.on('data', out.lines('wrangler', worthShowing));
dev.stderr?.on('data', out.lines('wrangler', worthShowing));
/** Where the Worker's own workerd listens: wrangler moves it at every reload, and wrangler-dev.ts says where. */
const worker = new WorkerAddress();
dev.on('message', (message: WranglerDevMessage) => {
  if (message.type === 'reloading') worker.reloading();
  else if (message.type === 'reloaded') {
    worker.set(message.worker);
    if (!announced) announce();
  } else if (message.type === 'reload-failed') worker.failed(message.reason);
});

function stopDev(signal: NodeJS.Signals): void {
  if (!dev.pid || dev.exitCode !== null || dev.signalCode !== null) return;
  try {
    if (ownGroup) process.kill(-dev.pid, signal);
    else dev.kill(signal);
  } catch {
    dev.kill(signal);
  }
}

/** The key `POST /api/v1/server/restarting` wants (protocol/server-restart.ts), from this run's token secret. */
function restartKey(): string | null {
  const secret = readFileSync(path.join(root, '.dev.vars'), 'utf8').match(/^WITNESS_TOKEN_SECRET=(.*)$/m)?.[1];
  return secret ? createHmac('sha256', secret.trim()).update(SERVER_RESTART_KEY_CONTEXT).digest('hex') : null;
}

/** Best effort, and quick: live viewers get a 1012 close and reconnect, rather than a bare 1006 later. */
async function tellViewers(): Promise<void> {
  const key = restartKey();
  if (!key) return;
  try {
    // Through wrangler's ProxyWorker, which holds it while the Worker reloads; the edge has nothing to add to it.
    const res = await fetch(`http://127.0.0.1:${wranglerPort}${SERVER_RESTART_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(3000),
    });
    const reply = res.ok ? ((await res.json()) as { viewers?: number }) : null;
    if (reply?.viewers) out.say(`told ${reply.viewers} live viewer(s) that the server is restarting`);
  } catch {
    // Not up yet, or already going: the viewers see the socket drop and reconnect all the same.
  }
}

let stopping = false;
/** The MP4 processor beside the server, once it runs (startProcessor, below). */
let processor: ChildProcess | null = null;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // A second Ctrl-C does not wait.
    if (stopping) return stopDev(signal);
    stopping = true;
    processor?.kill('SIGTERM'); // it hands a job under way back to the queue
    void tellViewers().finally(() => stopDev(signal));
  });
}
process.on('exit', () => {
  stopDev('SIGTERM');
  if (processor?.exitCode === null) processor.kill('SIGTERM');
});
dev.on('exit', (code) => process.exit(code ?? 0));
// The public port: the local edge enforces the request limits that Cloudflare's edge enforces in production.
await startLocalEdge({
  host: '127.0.0.1',
  port: Number(values.port),
  upstream: worker,
});
const logName = path.relative(process.cwd(), out.file);
out.say(`full log: ${logName.startsWith('..') ? out.file : logName} (npm start -- --verbose prints it here too)`);

/** The processor beside the server (MP4 jobs), signed in with the key derived from this run's token secret. */
function startProcessor(): ChildProcess | null {
  if (values['no-processor']) return null;
  if (!findExecutable('ffmpeg')) {
    out.say('ffmpeg is not on the PATH: no MP4 processor runs; recordings stay WebM until one does');
    return null;
  }
  const secret = readFileSync(path.join(root, '.dev.vars'), 'utf8').match(/^WITNESS_TOKEN_SECRET=(.*)$/m)?.[1];
  if (!secret) return null;
  const key = `${LOCAL_PROCESSOR_KEY_PREFIX}${createHmac('sha256', secret.trim()).update(LOCAL_PROCESSOR_KEY_CONTEXT).digest('hex')}`;
  const child = spawn(
    process.execPath,
    [path.join(root, 'agents', 'processor', 'src', 'cli.ts'), '--server', `http://127.0.0.1:${values.port}`],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, WITNESS_API_KEY: key } },
  );
  // Its failures on screen; its account of every job in the log.
  const trouble = (line: string) => /error|fail|refus|cannot|can't/i.test(line);
  child.stdout?.on('data', out.lines('processor', trouble));
  child.stderr?.on('data', out.lines('processor', trouble));
  child.on('exit', (code, signal) => {
    if (!stopping) out.say(`the MP4 processor stopped (${signal ?? `exit ${code}`}); see ${out.file}`);
  });
  out.say('MP4 processor running beside the server (witness-processor, 1 job at a time)');
  return child;
}
processor = startProcessor();
