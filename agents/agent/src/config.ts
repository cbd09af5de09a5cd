/**
 * The agent's configuration (JSON, written by `witness-agent install`, readable by every account: the
 * recorder runs as the user who logs in): which Witness server, the host's name there, where recordings wait
 * for the server, the broker's socket, and what to do when the server cannot be reached at login. The agent
 * key is not in it: it sits in a file only root reads (`keyFile`), used by the broker alone (broker.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { identifier } from '../../../protocol/identifier.ts';

export const DEFAULT_CONFIG_PATH = '/etc/witness-agent/agent.json';
export const DEFAULT_KEY_FILE = '/etc/witness-agent/agent.key';
export const DEFAULT_SPOOL_DIR = '/var/spool/witness-agent';
export const DEFAULT_BROKER_SOCKET = '/run/witness-agent/broker.sock';

/** An API key of the `agent` scope, bound to the host on the server. */
export const AgentKey = z.string().trim().min(8).max(512);

export const AgentConfig = z.strictObject({
  server: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  /** This host's name in Witness: the sessions' target. */
  host: identifier(500),
  spoolDir: z.string().min(1).default(DEFAULT_SPOOL_DIR),
  /** The file holding the agent key (mode 0600, root's). */
  keyFile: z.string().min(1).default(DEFAULT_KEY_FILE),
  /** The broker's unix socket: each login asks it for a session of its own (broker.ts). */
  brokerSocket: z.string().min(1).default(DEFAULT_BROKER_SOCKET),
  /**
   * When the server (or the broker) cannot be reached at login: false (the default) records to the spool and
   * uploads later; true refuses the login with a message saying why.
   */
  failClosed: z.boolean().default(false),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export class AgentConfigError extends Error {}

export function parseAgentConfig(text: string, path: string): AgentConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError(`${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof json === 'object' && json !== null && 'apiKey' in json) {
    throw new AgentConfigError(
      `${path} holds the agent key, readable by every account (an older install): run witness-agent install ` +
        'again, which moves it into a file only root reads',
    );
  }
  const parsed = AgentConfig.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new AgentConfigError(`invalid configuration ${path}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AgentConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseAgentConfig(text, path);
}

/** The agent key, for root's processes (the broker, install, flush). */
export function loadAgentKey(config: AgentConfig): string {
  let text: string;
  try {
    text = readFileSync(config.keyFile, 'utf8');
  } catch (error) {
    throw new AgentConfigError(`cannot read the agent key ${config.keyFile}: ${(error as Error).message}`);
  }
  const key = AgentKey.safeParse(text);
  if (!key.success) throw new AgentConfigError(`${config.keyFile} does not hold an agent key`);
  return key.data;
}
