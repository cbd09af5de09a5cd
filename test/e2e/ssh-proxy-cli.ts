/**
 * The SSH proxy as deployed: its CLI (`witness-ssh-proxy`) in front of a real sshd, recording into the server
 * `npm start` runs. Tests log in through it with the real OpenSSH client (test/unit/ssh/openssh.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROXY_NODE_FLAGS } from '../../agents/ssh-proxy/src/node-flags.ts';
import { keygen, ssh, sshOptions, startSshd, type SshClient } from '../unit/ssh/openssh.ts';
import { apiKey, baseUrl, root } from './helpers.ts';

export interface RunningProxy {
  port: number;
  /** Opens an SSH session as `user` to `target` through the proxy: `ssh [options] user+target@proxy`. */
  login(options?: string[]): SshClient;
  /**
   * The same from a terminal of `cols`×`rows` (util-linux `script` gives ssh a pseudo-terminal of that size,
   * which ssh asks the proxy for).
   */
  loginInTerminal(cols: number, rows: number): SshClient;
  /** What the proxy logged (it runs with --verbose). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts sshd and the proxy; `user` may open `target` (that sshd) with a key made for it. */
export async function startProxy(user: string, target: string): Promise<RunningProxy> {
  const sshd = await startSshd();
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-e2e-ssh-proxy-'));
  const key = keygen(path.join(dir, user), `${user}@e2e`);
  const config = path.join(dir, 'ssh-proxy.json');
  writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      server: baseUrl,
      apiKeyEnv: 'E2E_WITNESS_API_KEY',
      hostKey: './host-key',
      spoolDir: './spool',
      // On SIGTERM the proxy uploads what its sessions still hold for at most this long (10 min by default).
      drainTimeoutMs: 15_000,
      users: { [user]: { authorizedKeys: [key.publicKey], targets: [target] } },
      targets: {
        [target]: {
          host: '127.0.0.1',
          port: sshd.port,
          username: sshd.username,
          privateKey: sshd.clientKey.path,
          hostKey: sshd.hostKey.fingerprint,
        },
      },
    }),
  );
  const cli = path.join(root, 'agents/ssh-proxy/bin/witness-ssh-proxy.mjs');
  await new Promise<void>((resolve, reject) => {
    const init = spawn(process.execPath, [cli, '--config', config, '--init'], { stdio: 'ignore' });
    init.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`--init exited ${code}`))));
  });
  const proxy: ChildProcess = spawn(process.execPath, [...PROXY_NODE_FLAGS, cli, '--config', config, '--verbose'], {
    env: { ...process.env, E2E_WITNESS_API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proxy.stderr?.on('data', (d: Buffer) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proxy.stdout?.on('data', (d: Buffer) => {
      out += d;
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    proxy.once('exit', () => reject(new Error(`the proxy exited:\n${output}`)));
  });
  return {
    port,
    login: (options = []) => ssh([...sshOptions(port, key.path), ...options, `${user}+${target}@127.0.0.1`]),
    loginInTerminal(cols, rows) {
      const quoted = [...sshOptions(port, key.path), `${user}+${target}@127.0.0.1`].map((a) => `'${a}'`).join(' ');
      return ssh(['-qfec', `stty cols ${cols} rows ${rows}; exec ssh ${quoted}`, '/dev/null'], {}, 'script');
    },
    output: () => output,
    async stop() {
      if (proxy.exitCode === null) {
        const exited = new Promise((resolve) => proxy.once('exit', resolve));
        proxy.kill('SIGTERM');
        await exited;
      }
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
