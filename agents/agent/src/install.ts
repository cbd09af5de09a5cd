/**
 * `witness-agent install` and `uninstall`: what the host needs so that every SSH login runs under the
 * recorder — the agent's configuration file, the agent key in a file only root reads, the broker's systemd
 * unit (broker.ts), the spool folder, and a ForceCommand block at the top of sshd's configuration
 * (sshd-config.ts). Idempotent; uninstall puts sshd's configuration back byte for byte and keeps
 * any recording the server does not have yet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type AgentConfig, AgentConfigError, parseAgentConfig } from './config.ts';
import {
  agentBlock,
  hasAgentBlock,
  otherForceCommands,
  shellQuote,
  withAgentBlock,
  withoutAgentBlock,
} from './sshd-config.ts';

export const DEFAULT_SSHD_CONFIG = '/etc/ssh/sshd_config';
export const DEFAULT_SYSTEMD_UNIT = '/etc/systemd/system/witness-agent-broker.service';
const SSHD = '/usr/sbin/sshd';
/** Present when systemd runs the machine (sd_booted). */
const SYSTEMD_RUNNING = '/run/systemd/system';

export class InstallError extends Error {}

export interface InstallOptions {
  config: AgentConfig;
  /** The agent key: written to `config.keyFile` (mode 0600), never into the configuration. */
  apiKey: string;
  configPath: string;
  /** Where the broker's unit file goes; systemd is asked to run it when the path is systemd's own. */
  systemdUnit: string;
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
  const command = [
    ...options.agentCommand,
    'session',
    '--config',
    options.configPath,
    '--sshd-config',
    options.sshdConfig,
  ];
  const changed = withAgentBlock(sshdText, agentBlock(command));
  // sshd's verdict first: a configuration it rejects leaves everything as it was.
  if (changed !== sshdText && (options.checkSshd ?? existsSync(SSHD))) checkSshdConfig(options.sshdConfig, changed);
  const configText = `${JSON.stringify(options.config, null, 2)}\n`;
  let brokerChanged = false;
  if (!sameText(options.configPath, configText)) {
    mkdirSync(dirname(options.configPath), { recursive: true, mode: 0o755 });
    // Readable by the accounts that log in (the recorder runs as the user): it holds no secret.
    writeAtomically(options.configPath, configText, 0o644);
    changes.push(`wrote ${options.configPath}`);
    brokerChanged = true;
  }
  const keyText = `${options.apiKey}\n`;
  if (!sameText(options.config.keyFile, keyText) || (statSync(options.config.keyFile).mode & 0o077) !== 0) {
    mkdirSync(dirname(options.config.keyFile), { recursive: true, mode: 0o755 });
    // Root's alone: the broker uses it; a login's recorder gets only its own session's ingest token.
    writeAtomically(options.config.keyFile, keyText, 0o600);
    changes.push(`wrote the agent key to ${options.config.keyFile} (mode 0600, root only)`);
    brokerChanged = true;
  }
  const unitText = brokerUnit(options);
  if (!sameText(options.systemdUnit, unitText)) {
    mkdirSync(dirname(options.systemdUnit), { recursive: true, mode: 0o755 });
    writeAtomically(options.systemdUnit, unitText, 0o644);
    changes.push(`wrote the broker's unit ${options.systemdUnit}`);
    brokerChanged = true;
  }
  if (!existsSync(options.config.spoolDir)) {
    mkdirSync(options.config.spoolDir, { recursive: true });
    changes.push(`created ${options.config.spoolDir}`);
  }
  // Every login's recorder makes its own folder here; none can list or touch another's (sticky, no read).
  if ((statSync(options.config.spoolDir).mode & 0o7777) !== 0o1733) {
    execFileSync('chmod', ['1733', options.config.spoolDir]);
  }
  if (changed !== sshdText) {
    writeAtomically(options.sshdConfig, changed, statSync(options.sshdConfig).mode & 0o7777);
    changes.push(
      `added the witness-agent ForceCommand to ${options.sshdConfig} (reload sshd for new logins to use it)`,
    );
  }
  if (brokerChanged) changes.push(startBroker(options));
  return changes;
}

export interface UninstallOptions {
  configPath: string;
  sshdConfig: string;
  systemdUnit: string;
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
      if (existsSync(options.systemdUnit)) {
        if (systemdOwns(options.systemdUnit)) systemctl(['disable', '--now', basename(options.systemdUnit)]);
        rmSync(options.systemdUnit);
        changes.push(`stopped the broker and removed ${options.systemdUnit}`);
      }
      rmSync(config.spoolDir, { recursive: true, force: true });
      rmSync(config.keyFile, { force: true });
      rmSync(options.configPath);
      changes.push(`removed ${options.configPath}, ${config.keyFile} and ${config.spoolDir}`);
    } else {
      // Recordings the server does not have yet: evidence, never deleted by uninstall (the key and the broker
      // stay to upload them).
      changes.push(
        `kept ${options.configPath}, ${config.keyFile} and ${config.spoolDir}: it holds ${left.length} ` +
          'recording(s) not uploaded yet (run witness-agent flush, then uninstall again)',
      );
    }
  }
  return changes;
}

/** Whether the sshd configuration has the block, for `status`. */
export function installedIn(sshdConfig: string): boolean {
  return hasAgentBlock(readText(sshdConfig));
}

/**
 * The broker's systemd unit: root, restarted when it stops (a login finding no broker records to the spool, or
 * is refused with failClosed), started before sshd takes logins.
 */
function brokerUnit(options: InstallOptions): string {
  const command = [...options.agentCommand, 'broker', '--config', options.configPath].map(shellQuote).join(' ');
  return [
    '# Written by `witness-agent install`; `witness-agent uninstall` removes it (docs/agent.md).',
    '[Unit]',
    "Description=witness-agent broker: holds the agent key, launches each login's own Witness session",
    'After=network-online.target',
    'Wants=network-online.target',
    'Before=ssh.service',
    '',
    '[Service]',
    `ExecStart=${command}`,
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Starts (or restarts) the broker through systemd, or says how to when systemd does not run this machine. */
function startBroker(options: InstallOptions): string {
  if (!systemdOwns(options.systemdUnit)) {
    const command = [...options.agentCommand, 'broker', '--config', options.configPath].map(shellQuote).join(' ');
    return `systemd does not run ${options.systemdUnit}: start the broker as root yourself: ${command}`;
  }
  const unit = basename(options.systemdUnit);
  systemctl(['daemon-reload']);
  systemctl(['enable', unit]);
  systemctl(['restart', unit]);
  return `started the broker (systemctl enable, restart ${unit})`;
}

function systemdOwns(unitPath: string): boolean {
  return existsSync(SYSTEMD_RUNNING) && dirname(unitPath) === dirname(DEFAULT_SYSTEMD_UNIT);
}

function systemctl(args: string[]): void {
  try {
    execFileSync('systemctl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? (error as Error).message;
    throw new InstallError(`systemctl ${args.join(' ')} failed: ${stderr}`);
  }
}

function sameText(path: string, text: string): boolean {
  return existsSync(path) && readFileSync(path, 'utf8') === text;
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
