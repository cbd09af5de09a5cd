/**
 * A test host for witness-agent: Debian's sshd on a loopback port (test/unit/ssh/openssh.ts) with the agent
 * installed into that sshd's own configuration by the real CLI (`witness-agent install --sshd-config`), never
 * the machine's, and its root broker (`witness-agent broker`) running as a child of the test, as systemd would
 * run it. Logins are the test's own account (root) or a non-root account made for these tests. The unit tests
 * point it at the fake Witness server, the e2e tests at `npm start`'s.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../../support/wait-for.ts';
import { type SshClient, type Sshd, ssh, sshOptions, startSshd } from '../ssh/openssh.ts';

const run = promisify(execFile);
export const AGENT_CLI = fileURLToPath(new URL('../../../agents/agent/src/cli.ts', import.meta.url));

/** The non-root account the agent's tests log in as (created once, kept: tests never remove accounts). */
export const TEST_USER = 'witness-agent-test';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** The test account, made when missing (the tests run as root, as CI does). */
export function testAccount(): Account {
  const lookup = () => {
    try {
      return execFileSync('getent', ['passwd', TEST_USER], { encoding: 'utf8' }).split(':');
    } catch {
      return null;
    }
  };
  let entry = lookup();
  if (!entry) {
    // '*' rather than a locked '!' password: sshd without PAM refuses a locked account even its key login.
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', '--password', '*', TEST_USER]);
    entry = lookup();
  }
  if (!entry) throw new Error(`cannot create the test account ${TEST_USER}`);
  return { name: TEST_USER, uid: Number(entry[2]), gid: Number(entry[3]) };
}

export interface AgentHost {
  sshd: Sshd;
  dir: string;
  configPath: string;
  keyFile: string;
  brokerSocket: string;
  systemdUnit: string;
  sshdConfig: string;
  spoolDir: string;
  /** The sshd configuration as it was before install. */
  sshdConfigBefore: string;
  /** What install printed. */
  installed: string;
  /** `ssh` to the host as its test account (or `user`), straight to sshd (not through the proxy). */
  login(args?: string[], env?: NodeJS.ProcessEnv, user?: string): SshClient;
  /**
   * An interactive login (`ssh -tt`), once its shell shows a prompt: a person waits for it, and what is typed
   * earlier is echoed by sshd's own terminal before the recorder runs (docs/agent.md, "Limits").
   */
  shell(user?: string): Promise<SshClient>;
  /** Runs the witness-agent CLI with these arguments. */
  agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The agent's log lines for the account `uid` (the test's own by default). */
  log(uid?: number): string;
  /** What the broker printed. */
  brokerLog(): string;
  stopBroker(): Promise<void>;
  startBroker(): Promise<void>;
  stop(): Promise<void>;
}

export interface AgentHostOptions {
  server: string;
  apiKey: string;
  host: string;
  failClosed?: boolean;
}

export async function runAgent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [AGENT_CLI, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

/** Whether something accepts connections on the unix socket `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function startAgentHost(options: AgentHostOptions): Promise<AgentHost> {
  const dir = mkdtempSync(join(tmpdir(), 'witness-agent-host-'));
  // Other accounts log in here too: they read agent.json and reach the broker's socket and the spool.
  chmodSync(dir, 0o755);
  const configPath = join(dir, 'agent.json');
  const keyFile = join(dir, 'agent.key');
  const brokerSocket = join(dir, 'broker.sock');
  const systemdUnit = join(dir, 'witness-agent-broker.service');
  const spoolDir = join(dir, 'spool');
  let sshdConfig = '';
  let sshdConfigBefore = '';
  let installed = '';
  let installProblem: Error | null = null;
  const installArgs = [
    'install',
    '--server',
    options.server,
    '--api-key',
    options.apiKey,
    '--host',
    options.host,
    '--config',
    configPath,
    '--spool-dir',
    spoolDir,
    '--key-file',
    keyFile,
    '--broker-socket',
    brokerSocket,
    '--systemd-unit',
    systemdUnit,
    ...(options.failClosed ? ['--fail-closed'] : []),
  ];
  // Installed before sshd starts, so that its first connection already runs the recorder.
  // Asynchronously: the fake Witness server answering install's key check may run in this process.
  const sshd = await startSshd(async (config) => {
    sshdConfig = config;
    sshdConfigBefore = readFileSync(config, 'utf8');
    // sshd reads authorized_keys as the account logging in (the test account too); its private keys stay 0600.
    chmodSync(dirname(config), 0o755);
    chmodSync(join(dirname(config), 'authorized_keys'), 0o644);
    const result = await runAgent([...installArgs, '--sshd-config', config]);
    installed = result.stdout;
    if (result.code !== 0)
      installProblem = new Error(`witness-agent install failed (${result.code}): ${result.stderr}`);
  });
  if (installProblem) {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
    throw installProblem;
  }
  let broker: ChildProcess | null = null;
  let brokerOutput = '';
  const startBroker = async () => {
    if (broker && broker.exitCode === null) return;
    const child = spawn(process.execPath, [AGENT_CLI, 'broker', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      brokerOutput += chunk.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    broker = child;
    await waitFor('the broker to listen', () => child.exitCode === null && socketAnswers(brokerSocket), {
      timeoutMs: 15_000,
      detail: () => brokerOutput,
    });
  };
  const stopBroker = async () => {
    const child = broker;
    broker = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  await startBroker();
  const target = (user?: string) => `${user ?? sshd.username}@127.0.0.1`;
  return {
    sshd,
    dir,
    configPath,
    keyFile,
    brokerSocket,
    systemdUnit,
    sshdConfig,
    spoolDir,
    sshdConfigBefore,
    installed,
    login: (args = [], env = {}, user) =>
      ssh([...sshOptions(sshd.port, sshd.clientKey.path), target(user), ...args], env),
    async shell(user) {
      const client = ssh([...sshOptions(sshd.port, sshd.clientKey.path), '-tt', target(user)]);
      await client.waitFor(/[#$] $/);
      return client;
    },
    agent: runAgent,
    log: (uid = process.getuid?.() ?? 0) => {
      try {
        return readFileSync(join(spoolDir, `agent-${uid}.log`), 'utf8');
      } catch {
        return '';
      }
    },
    brokerLog: () => brokerOutput,
    stopBroker,
    startBroker,
    async stop() {
      await stopBroker();
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
