/**
 * Real OpenSSH for the SSH proxy's tests: an sshd (Debian's openssh-server) on a loopback port with its own
 * host key and authorized_keys, logging in as the user running the tests, and the `ssh` client.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../support/wait-for.ts';

export interface KeyPair {
  path: string;
  publicKey: string;
  fingerprint: string;
}

/** Generates an ed25519 key with ssh-keygen. */
export function keygen(path: string, comment = 'witness-test'): KeyPair {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  const publicKey = readFileSync(`${path}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
  return { path, publicKey, fingerprint };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts connections on 127.0.0.1:`port` now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(`something to listen on port ${port}`, () => listening(port), { timeoutMs, intervalMs: 50 });
}

export interface Sshd {
  port: number;
  dir: string;
  /** The account it lets in. */
  username: string;
  hostKey: KeyPair;
  /** The key the proxy logs in with. */
  clientKey: KeyPair;
  stop(): Promise<void>;
}

/**
 * Starts sshd -D -e on 127.0.0.1 with a fresh host key; `clientKey` is its only authorized key. `beforeStart`
 * may change its configuration file first (witness-agent's tests install the agent into it).
 */
export async function startSshd(beforeStart?: (config: string) => void | Promise<void>): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'witness-sshd-'));
  const hostKey = keygen(join(dir, 'host_ed25519'), 'target-host');
  const clientKey = keygen(join(dir, 'proxy_to_target'), 'proxy');
  writeFileSync(join(dir, 'authorized_keys'), `${clientKey.publicKey}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.path}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'PrintMotd no',
      'PrintLastLog no',
      'AcceptEnv LANG LC_* WITNESS_*',
      'Subsystem sftp internal-sftp',
      'X11Forwarding yes',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await beforeStart?.(config);
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill();
    throw new Error(`sshd did not start: ${(error as Error).message}\n${log}`);
  }
  return {
    port,
    dir,
    username: userInfo().username,
    hostKey,
    clientKey,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Options every test ssh client uses: no known_hosts, no config, no agent. `INFO` (ssh's default) shows what
 * the server says during authentication.
 */
export function sshOptions(port: number, key?: string, logLevel = 'ERROR'): string[] {
  return [
    '-F',
    '/dev/null',
    '-p',
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    `LogLevel=${logLevel}`,
    '-o',
    'IdentityAgent=none',
    ...(key ? ['-o', 'IdentitiesOnly=yes', '-i', key] : ['-o', 'PubkeyAuthentication=no']),
  ];
}

/** A running `ssh` client; what it printed is collected. */
export interface SshClient {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends text as if typed. */
  type(text: string): void;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Resolves once stdout contains `text` (or rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** `program`: `ssh` itself, or a program that runs it (util-linux `script`, for a terminal of a given size). */
export function ssh(args: string[], env: NodeJS.ProcessEnv = {}, program = 'ssh'): SshClient {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const wake of [...waiters]) wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    type: (text) => child.stdin?.write(text),
    exited,
    waitFor(text, timeoutMs = 15_000) {
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      if (seen()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`timed out waiting for ${String(text)}; stdout: ${out.slice(-500)}; stderr: ${err}`));
        }, timeoutMs);
        const wake = () => {
          if (!seen()) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        waiters.add(wake);
      });
    },
  };
}
