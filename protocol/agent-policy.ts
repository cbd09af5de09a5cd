/**
 * What witness-agent asks Witness at each login (`GET /api/v1/agent/policy`): whether logins on its host are
 * recorded — "record all sessions", on unless an administrator's rule for a host pattern says otherwise
 * (`GET|PUT /api/v1/settings/agent`) — and the recording policy a session launched now would get.
 */
import { z } from 'zod';
import { Policy } from './session.ts';
import { matchesPattern, TargetPattern } from './target-pattern.ts';

/** `db-*`, `*.prod`, `web-0?`: `*` any run of characters, `?` one; case does not matter (host names). */
export const HostPattern = TargetPattern;

export const AgentHostRule = z.strictObject({ hosts: HostPattern, record: z.boolean() });
export type AgentHostRule = z.infer<typeof AgentHostRule>;

/** The first rule whose pattern matches the host decides; a host no rule matches is recorded. */
export const AgentSettings = z.strictObject({ rules: z.array(AgentHostRule).max(100) });
export type AgentSettings = z.infer<typeof AgentSettings>;

export const DEFAULT_AGENT_SETTINGS: AgentSettings = { rules: [] };

export const AgentPolicyReply = z.strictObject({
  /** The host the agent key is bound to. */
  host: z.string(),
  /** Whether its logins are recorded now. */
  record: z.boolean(),
  /** The pattern of the rule that decided, or null (no rule: recorded). */
  rule: z.string().nullable(),
  /** The settings a session launched now would snapshot (keystrokes, inactivity timeout, maximum length). */
  policy: Policy,
});
export type AgentPolicyReply = z.infer<typeof AgentPolicyReply>;

/** Whether logins on `host` are recorded under `settings`, and the rule that said so. */
export function recordsHost(settings: AgentSettings, host: string): { record: boolean; rule: string | null } {
  for (const rule of settings.rules) {
    if (matchesPattern(rule.hosts, host)) return { record: rule.record, rule: rule.hosts };
  }
  return { record: true, rule: null };
}
