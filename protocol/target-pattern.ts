/**
 * Patterns over host and target names (`db-*`, `*.prod`, `web-0?`): `*` any run of characters, `?` one; case
 * does not matter. witness-agent's host rules (protocol/agent-policy.ts) and the recording rules per target
 * (protocol/recording-rules.ts) share them, so one pattern means the same thing in both.
 */
import { z } from 'zod';

export const TargetPattern = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9.*?_-]+$/, 'letters, digits, `. _ -` and the wildcards `*` and `?`');

function patternRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.*?]/g, (char) => (char === '*' ? '.*' : char === '?' ? '.' : '\\.'));
  return new RegExp(`^${body}$`, 'i');
}

/** Whether `name` (a host or target) matches `pattern`. */
export function matchesPattern(pattern: string, name: string): boolean {
  return patternRegExp(pattern).test(name);
}
