/**
 * Asking Witness at login whether and how this host's logins are recorded (`GET /api/v1/agent/policy`), and
 * the last answer, kept in the spool for when Witness cannot be reached. The kept answer is written only by
 * its owner (install and the broker, as root): a user cannot replace it in the sticky spool folder.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentPolicyReply } from '../../../protocol/agent-policy.ts';
import { ErrorBody } from '../../../protocol/ingest.ts';
import type { AgentConfig } from './config.ts';

export const POLICY_FILE = 'policy.json';
const TIMEOUT_MS = 10_000;

export type PolicyAnswer =
  | { kind: 'answered'; reply: AgentPolicyReply }
  /** The server could not be asked, or did not answer in time. */
  | { kind: 'unreachable'; why: string }
  /** The server refused the key (revoked, not an agent key, another host's). */
  | { kind: 'refused'; status: number; code: string; why: string };

/** Asks with the agent key (the broker and install do: they are root's). */
export async function askPolicy(
  config: Pick<AgentConfig, 'server'>,
  apiKey: string,
  fetchImpl: typeof fetch = fetch,
): Promise<PolicyAnswer> {
  let response: Response;
  try {
    response = await fetchImpl(`${config.server}/api/v1/agent/policy`, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const code = ((error as Error).cause as { code?: unknown } | undefined)?.code;
    const detail = typeof code === 'string' ? `${(error as Error).message} (${code})` : (error as Error).message;
    return { kind: 'unreachable', why: `cannot reach ${config.server}: ${detail}` };
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status === 200) {
    const reply = AgentPolicyReply.safeParse(json);
    if (reply.success) return { kind: 'answered', reply: reply.data };
    return { kind: 'unreachable', why: `unexpected policy reply from ${config.server}: ${text.slice(0, 200)}` };
  }
  const error = ErrorBody.safeParse(json);
  if (response.status >= 500 || !error.success) {
    return { kind: 'unreachable', why: `${config.server} answered HTTP ${response.status}: ${text.slice(0, 200)}` };
  }
  return {
    kind: 'refused',
    status: response.status,
    code: error.data.error.code,
    why: `Witness refused this host's agent key (HTTP ${response.status} ${error.data.error.code}: ${error.data.error.message})`,
  };
}

/** The last answer kept in the spool, or null. */
export function cachedPolicy(spoolDir: string): AgentPolicyReply | null {
  try {
    const parsed = AgentPolicyReply.safeParse(JSON.parse(readFileSync(join(spoolDir, POLICY_FILE), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Keeps the answer; false when this process may not replace the kept one (it is another account's). */
export function keepPolicy(spoolDir: string, reply: AgentPolicyReply): boolean {
  const file = join(spoolDir, POLICY_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(reply), { mode: 0o644 });
    renameSync(temporary, file);
    return true;
  } catch {
    rmSync(temporary, { force: true });
    return false;
  }
}
