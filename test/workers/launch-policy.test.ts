/**
 * The recording policy is the administrator's: a launch may make it stricter than the settings, never weaker,
 * unless its key has `policy:override` (the `vault` scope), and then the override is recorded and audited.
 * Every case runs against the default settings (recording and keystrokes on, 15 min inactivity, 8 h at most).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../protocol/session.ts';
import { API_KEY, api, errorCode } from './helpers.ts';

async function keyWith(scopes: string[]): Promise<string> {
  return (await keyAndId(scopes)).secret;
}

async function keyAndId(scopes: string[]): Promise<{ secret: string; id: string }> {
  const res = await api('/keys', { method: 'POST', body: JSON.stringify({ name: `k-${scopes.join('+')}`, scopes }) });
  expect(res.status).toBe(201);
  const { secret, key } = (await res.json()) as { secret: string; key: { id: string } };
  return { secret, id: key.id };
}

function launchWith(key: string, policy?: Record<string, unknown>): Promise<Response> {
  return api('/launches', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({ user: 'alice', target: 'db-1', ...(policy && { policy }) }),
  });
}

interface SessionView {
  policy: typeof DEFAULT_POLICY;
  policySource: { kind: string; changes: string[]; launchedBy: string };
}

async function launchedView(res: Response): Promise<SessionView & { id: string }> {
  expect(res.status).toBe(201);
  const { sessionId } = (await res.json()) as { sessionId: string };
  return { id: sessionId, ...((await (await api(`/sessions/${sessionId}`)).json()) as SessionView) };
}

const WEAKER: Array<Record<string, unknown>> = [
  { recordingEnabled: false },
  { keystrokesEnabled: false },
  { inactivityTimeoutMs: 0 },
  { inactivityTimeoutMs: DEFAULT_POLICY.inactivityTimeoutMs + 1 },
  { maxSessionLengthMs: 0 },
  { maxSessionLengthMs: DEFAULT_POLICY.maxSessionLengthMs + 60_000 },
  { inactivityTimeoutMs: 60_000, recordingEnabled: false }, // stricter in one field does not buy weaker in another
  // Weaker in every field at once: refused, every field named.
  { recordingEnabled: false, keystrokesEnabled: false, inactivityTimeoutMs: 0, maxSessionLengthMs: 0 },
];

const STRICTER: Array<Record<string, unknown>> = [
  { inactivityTimeoutMs: 60_000 },
  { maxSessionLengthMs: 3_600_000 },
  { inactivityTimeoutMs: 60_000, maxSessionLengthMs: 3_600_000, keystrokesEnabled: true },
];

describe('launch policy', () => {
  it('refuses a launch key anything weaker than the settings, with a 403 naming the fields', async () => {
    const key = await keyWith(['launch']);
    for (const policy of WEAKER) {
      const res = await launchWith(key, policy);
      expect(res.status, JSON.stringify(policy)).toBe(403);
      expect(await errorCode(res.clone())).toBe('policy_weaker_than_settings');
      const { error } = (await res.json()) as { error: { message: string } };
      for (const field of Object.keys(policy).filter((f) => f !== 'inactivityTimeoutMs' || policy[f] !== 60_000)) {
        expect(error.message).toContain(field);
      }
    }
  });

  it('takes a stricter policy from a launch key, and says it was made stricter', async () => {
    const key = await keyWith(['launch']);
    for (const policy of STRICTER) {
      const view = await launchedView(await launchWith(key, policy));
      expect(view.policy).toEqual({ ...DEFAULT_POLICY, ...policy });
      expect(view.policySource.kind).toBe('stricter');
      const changed = Object.keys(policy).filter((f) => policy[f] !== DEFAULT_POLICY[f as keyof typeof DEFAULT_POLICY]);
      expect(view.policySource.changes.sort()).toEqual(changed.sort());
    }
  });

  it('runs a launch that asks for nothing, or for the settings as they are, under the settings', async () => {
    const key = await keyWith(['launch']);
    for (const policy of [undefined, { ...DEFAULT_POLICY }]) {
      const view = await launchedView(await launchWith(key, policy));
      expect(view.policy).toEqual(DEFAULT_POLICY);
      expect(view.policySource).toMatchObject({ kind: 'settings', changes: [] });
    }
  });

  it('lets a vault key weaken the policy, records it as an override and audits what the settings were', async () => {
    const { secret: key, id } = await keyAndId(['vault']);
    const view = await launchedView(await launchWith(key, { recordingEnabled: false, inactivityTimeoutMs: 60_000 }));
    expect(view.policy).toEqual({ ...DEFAULT_POLICY, recordingEnabled: false, inactivityTimeoutMs: 60_000 });
    expect(view.policySource.kind).toBe('override');
    expect(view.policySource.changes.sort()).toEqual(['inactivityTimeoutMs', 'recordingEnabled']);
    expect(view.policySource.launchedBy).toBe(`key:${id}`);

    const audit = (await (await api(`/audit?action=session.launched&target=${view.id}`)).json()) as {
      entries: Array<{ actorKind: string; details: Record<string, unknown> }>;
    };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]?.details).toMatchObject({
      policySource: 'override',
      policyChanges: ['recordingEnabled', 'inactivityTimeoutMs'],
      settings: { recordingEnabled: true, inactivityTimeoutMs: DEFAULT_POLICY.inactivityTimeoutMs },
    });
  });

  it('gives the administrator (the bootstrap key, every permission) the override too', async () => {
    const view = await launchedView(await launchWith(API_KEY, { keystrokesEnabled: false }));
    expect(view.policySource).toMatchObject({ kind: 'override', changes: ['keystrokesEnabled'] });
  });

  it('refuses a read key any launch at all', async () => {
    const res = await launchWith(await keyWith(['read']));
    expect(res.status).toBe(403);
  });
});
