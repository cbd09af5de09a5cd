/**
 * The agent's configuration file (JSON, written by `witness-agent install`): which Witness server, the agent
 * key bound to this host, the host's name there, where recordings wait for the server, and what to do when the
 * server cannot be reached at login.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { identifier } from '../../../protocol/identifier.ts';

export const DEFAULT_CONFIG_PATH = '/etc/witness-agent/agent.json';
export const DEFAULT_SPOOL_DIR = '/var/spool/witness-agent';

export const AgentConfig = z.strictObject({
  server: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  /** An API key of the `agent` scope, bound to `host` on the server. */
  apiKey: z.string().min(8).max(512),
  /** This host's name in Witness: the sessions' target. */
  host: identifier(500),
  spoolDir: z.string().min(1).default(DEFAULT_SPOOL_DIR),
  /**
   * When the server cannot be reached at login: false (the default) records to the spool and uploads later;
   * true refuses the login with a message saying why.
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
