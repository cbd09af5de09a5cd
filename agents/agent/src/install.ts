/**
 * `witness-agent install` and `uninstall`: what the host needs so that every SSH login runs under the
 * recorder — the agent's configuration file, the spool folder, and a ForceCommand block at the top of sshd's
 * configuration (sshd-config.ts). Idempotent; uninstall puts sshd's configuration back byte for byte and keeps
 * any recording the server does not have yet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type AgentConfig, AgentConfigError, parseAgentConfig } from './config.ts';
import { agentBlock, hasAgentBlock, otherForceCommands, withAgentBlock, withoutAgentBlock } from './sshd-config.ts';

export const DEFAULT_SSHD_CONFIG = '/etc/ssh/sshd_config';
const SSHD = '/usr/sbin/sshd';

export class InstallError extends Error {}

export interface InstallOptions {
  config: AgentConfig;
  configPath: string;
  sshdConfig: string;
  /** The command sshd runs for every login: witness-agent's own (node, the CLI). */
  agentCommand: readonly string[];
  /** Check the changed sshd configuration with `sshd -t` before putting it in place (default: when sshd exists). */
  checkSshd?: boolean;
}

/** What install or uninstall did, one line each, for the user. */
export type Changes = string[];

export function install(options: InstallOptions): Changes {
  const changes: Changes = [];
  const sshdText = readText(options.sshdConfig);
  const others = otherForceCommands(sshdText);
  if (others.length > 0) {
    throw new InstallError(
      `${options.sshdConfig} has its own ForceCommand (line ${others.join(', ')}): a ForceCommand in a Match block ` +
        'would run instead of the recorder for the logins it matches; remove it first',
    );
  }
  const configText = `${JSON.stringify(options.config, null, 2)}\n`;
  if (!existsSync(options.configPath) || readFileSync(options.configPath, 'utf8') !== configText) {
    mkdirSync(dirname(options.configPath), { recursive: true, mode: 0o755 });
    // Readable by the accounts that log in: the recorder runs as the user (docs/agent.md, "Limits").
    writeAtomically(options.configPath, configText, 0o644);
    changes.push(`wrote ${options.configPath}`);
  }
  if (!existsSync(options.config.spoolDir)) {
    mkdirSync(options.config.spoolDir, { recursive: true });
    changes.push(`created ${options.config.spoolDir}`);
  }
  // Every login's recorder makes its own folder here; none can list or touch another's (sticky, no read).
  if ((statSync(options.config.spoolDir).mode & 0o7777) !== 0o1733) {
    execFileSync('chmod', ['1733', options.config.spoolDir]);
  }
  const command = [
    ...options.agentCommand,
    'session',
    '--config',
    options.configPath,
    '--sshd-config',
    options.sshdConfig,
  ];
  const changed = withAgentBlock(sshdText, agentBlock(command));
  if (changed !== sshdText) {
    if (options.checkSshd ?? existsSync(SSHD)) checkSshdConfig(options.sshdConfig, changed);
    writeAtomically(options.sshdConfig, changed, statSync(options.sshdConfig).mode & 0o7777);
    changes.push(
      `added the witness-agent ForceCommand to ${options.sshdConfig} (reload sshd for new logins to use it)`,
    );
  }
  return changes;
}

export interface UninstallOptions {
  configPath: string;
  sshdConfig: string;
}

export function uninstall(options: UninstallOptions): Changes {
  const changes: Changes = [];
  const sshdText = readText(options.sshdConfig);
  if (hasAgentBlock(sshdText)) {
    writeAtomically(options.sshdConfig, withoutAgentBlock(sshdText), statSync(options.sshdConfig).mode & 0o7777);
    changes.push(`removed the witness-agent ForceCommand from ${options.sshdConfig} (reload sshd)`);
  }
  if (existsSync(options.configPath)) {
    let config: AgentConfig;
    try {
      config = parseAgentConfig(readFileSync(options.configPath, 'utf8'), options.configPath);
    } catch (error) {
      if (error instanceof AgentConfigError) {
        throw new InstallError(`${error.message}: not removed, it does not look like witness-agent's`);
      }
      throw error;
    }
    // Folders are recordings (a session's, or one recorded offline); the log and the kept policy are not.
    const left = existsSync(config.spoolDir)
      ? readdirSync(config.spoolDir, { withFileTypes: true }).filter((entry) => entry.isDirectory())
      : [];
    if (left.length === 0) {
      rmSync(config.spoolDir, { recursive: true, force: true });
      rmSync(options.configPath);
      changes.push(`removed ${options.configPath} and ${config.spoolDir}`);
    } else {
      // Recordings the server does not have yet: evidence, never deleted by uninstall.
      changes.push(
        `kept ${options.configPath} and ${config.spoolDir}: it holds ${left.length} recording(s) not uploaded yet ` +
          '(run witness-agent flush, then uninstall again)',
      );
    }
  }
  return changes;
}

/** Whether the sshd configuration has the block, for `status`. */
export function installedIn(sshdConfig: string): boolean {
  return hasAgentBlock(readText(sshdConfig));
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InstallError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function writeAtomically(path: string, text: string, mode: number): void {
  const temporary = `${path}.witness-agent.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, path);
}

/** `sshd -t` on the changed text, written beside the original (relative Includes resolve the same). */
function checkSshdConfig(path: string, text: string): void {
  const candidate = `${path}.witness-agent.check`;
  writeFileSync(candidate, text, { mode: 0o600 });
  try {
    execFileSync(SSHD, ['-t', '-f', candidate], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? (error as Error).message;
    throw new InstallError(`sshd refuses the changed configuration, so ${path} is left as it was: ${stderr}`);
  } finally {
    rmSync(candidate, { force: true });
  }
}
