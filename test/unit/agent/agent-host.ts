/**
 * A test host for witness-agent: Debian's sshd on a loopback port (test/unit/ssh/openssh.ts) with the agent
 * installed into that sshd's own configuration by the real CLI (`witness-agent install --sshd-config`), never
 * the machine's. The unit tests point it at the fake Witness server, the e2e tests at `npm start`'s.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type SshClient, type Sshd, ssh, sshOptions, startSshd } from '../ssh/openssh.ts';

const run = promisify(execFile);
export const AGENT_CLI = fileURLToPath(new URL('../../../agents/agent/src/cli.ts', import.meta.url));

export interface AgentHost {
  sshd: Sshd;
  dir: string;
  configPath: string;
  sshdConfig: string;
  spoolDir: string;
  /** The sshd configuration as it was before install. */
  sshdConfigBefore: string;
  /** What install printed. */
  installed: string;
  /** `ssh` to the host as its test account, straight to sshd (not through the proxy). */
  login(args?: string[], env?: NodeJS.ProcessEnv): SshClient;
  /**
   * An interactive login (`ssh -tt`), once its shell shows a prompt: a person waits for it, and what is typed
   * earlier is echoed by sshd's own terminal before the recorder runs (docs/agent.md, "Limits").
   */
  shell(): Promise<SshClient>;
  /** Runs the witness-agent CLI with these arguments. */
  agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The agent's log lines for the test account. */
  log(): string;
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

export async function startAgentHost(options: AgentHostOptions): Promise<AgentHost> {
  const dir = mkdtempSync(join(tmpdir(), 'witness-agent-host-'));
  const configPath = join(dir, 'agent.json');
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
    ...(options.failClosed ? ['--fail-closed'] : []),
  ];
  // Installed before sshd starts, so that its first connection already runs the recorder.
  // Asynchronously: the fake Witness server answering install's key check may run in this process.
  const sshd = await startSshd(async (config) => {
    sshdConfig = config;
    sshdConfigBefore = readFileSync(config, 'utf8');
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
  return {
    sshd,
    dir,
    configPath,
    sshdConfig,
    spoolDir,
    sshdConfigBefore,
    installed,
    login: (args = [], env = {}) =>
      ssh([...sshOptions(sshd.port, sshd.clientKey.path), `${sshd.username}@127.0.0.1`, ...args], env),
    async shell() {
      const client = ssh([...sshOptions(sshd.port, sshd.clientKey.path), '-tt', `${sshd.username}@127.0.0.1`]);
      await client.waitFor(/[#$] $/);
      return client;
    },
    agent: runAgent,
    log: () => {
      try {
        return readFileSync(join(spoolDir, `agent-${process.getuid?.() ?? 'user'}.log`), 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
