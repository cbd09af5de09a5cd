/**
 * Where recordings are saved and at what level, by target (#16 items 5, 6): the rules API, launch resolving
 * them, and a session in the second storage location whose every read and write hits that location's buckets.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../protocol/evidence.ts';
import { recordingKey } from '../../protocol/ingest.ts';
import worker from '../../worker/index.ts';
import { api, connectLauncher, errorCode, launch, recordedSession, request } from './helpers.ts';

const DAY_MS = 86_400_000;

function putRules(body: unknown): Promise<Response> {
  return api('/settings/recording/rules', { method: 'PUT', body: JSON.stringify(body) });
}

async function keys(bucket: R2Bucket, id: string): Promise<string[]> {
  return (await bucket.list({ prefix: `sessions/${id}/` })).objects.map((o) => o.key).sort();
}

async function detail(
  id: string,
): Promise<{ storage: string; recordingLevel: string; policy: { recordingLevel: string } }> {
  return (await api(`/sessions/${id}`)).json();
}

const EU_RULES = {
  storage: 'RECORDINGS',
  rules: [
    { targets: 'db-*.eu', recordingLevel: 'basic', storage: 'RECORDINGS_EU' },
    { targets: '*.eu', storage: 'RECORDINGS_EU' },
  ],
};

describe('the rules by target', () => {
  it('lists the deployment’s storage locations, default first', async () => {
    const res = await api('/settings/recording/storage');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      locations: [
        { name: 'RECORDINGS', archive: 'ARCHIVE', label: 'Default' },
        { name: 'RECORDINGS_EU', archive: 'ARCHIVE_EU', label: 'EU (jurisdiction eu)' },
      ],
      default: 'RECORDINGS',
    });
  });

  it('refuses an unknown storage, a bad pattern and an empty rule, changing nothing', async () => {
    expect((await putRules(EU_RULES)).status).toBe(200);
    const unknown = await putRules({ storage: 'RECORDINGS', rules: [{ targets: 'x*', storage: 'NOWHERE' }] });
    expect(unknown.status).toBe(400);
    expect(await errorCode(unknown)).toBe('unknown_storage');
    const badDefault = await putRules({ storage: 'NOWHERE', rules: [] });
    expect(await errorCode(badDefault)).toBe('unknown_storage');
    const pattern = await putRules({ storage: 'RECORDINGS', rules: [{ targets: 'db/*', recordingLevel: 'basic' }] });
    expect(pattern.status).toBe(400);
    expect(await errorCode(pattern)).toBe('invalid_json');
    const empty = await putRules({ storage: 'RECORDINGS', rules: [{ targets: 'db-*' }] });
    expect(empty.status).toBe(400);
    const level = await putRules({ storage: 'RECORDINGS', rules: [{ targets: 'db-*', recordingLevel: 'full' }] });
    expect(level.status).toBe(400);
    expect(await (await api('/settings/recording/rules')).json()).toEqual(EU_RULES);
  });

  it('audits each change with the old and new value, and says what changed', async () => {
    expect((await putRules(EU_RULES)).status).toBe(200);
    const next = { ...EU_RULES, rules: [{ ...EU_RULES.rules[0], recordingLevel: 'advanced' }, EU_RULES.rules[1]] };
    expect((await putRules(next)).status).toBe(200);
    const audit = (await (await api('/audit?action=settings.changed')).json()) as {
      entries: Array<{ targetId: string; details: { before: unknown; after: unknown }; sentence?: unknown }>;
    };
    const row = audit.entries.find((entry) => entry.targetId === 'recording-rules');
    expect(row?.details).toEqual({ before: EU_RULES, after: next });
  });

  it('resolves the level and storage at launch, first match wins; other targets get the defaults', async () => {
    expect((await putRules(EU_RULES)).status).toBe(200);
    const basicEu = await launch({ target: 'db-7.eu' });
    expect(await detail(basicEu.sessionId)).toMatchObject({
      storage: 'RECORDINGS_EU',
      recordingLevel: 'basic',
      policy: { recordingLevel: 'basic' },
    });
    const webEu = await launch({ target: 'web.eu' });
    expect(await detail(webEu.sessionId)).toMatchObject({ storage: 'RECORDINGS_EU', recordingLevel: 'advanced' });
    const other = await launch({ target: 'db-01.prod' });
    expect(await detail(other.sessionId)).toMatchObject({ storage: 'RECORDINGS', recordingLevel: 'advanced' });
    // The launcher learns the level from its welcome: beside the policy, which keeps the fields every launcher
    // (older ones parse it strictly) knows.
    const launcher = await connectLauncher(basicEu);
    expect(launcher.welcome.recordingLevel).toBe('basic');
    expect(launcher.welcome.policy).not.toHaveProperty('recordingLevel');
    expect(Object.keys(launcher.welcome.policy as object).sort()).toEqual([
      'inactivityTimeoutMs',
      'keystrokesEnabled',
      'maxSessionLengthMs',
      'recordingEnabled',
    ]);
    launcher.ws.close();
  });

  it('a basic session refuses keystroke, process and window events and keeps the rest', async () => {
    expect((await putRules(EU_RULES)).status).toBe(200);
    const s = await launch({ target: 'db-8.eu' });
    const launcher = await connectLauncher(s);
    const res = await request(`/ingest/v1/sessions/${s.sessionId}/events/0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          { type: 'keys', atMs: 0, endMs: 10, text: 'ls' },
          { type: 'window.focus', atMs: 0, title: 'xterm', app: 'xterm' },
          { type: 'process.start', atMs: 0, pid: 7, name: 'ls', path: '/bin/ls', commandLine: 'ls', user: 'alice' },
        ],
      }),
    });
    const ack = (await res.json()) as { stored: number; rejected: Array<{ index: number; reason: string }> };
    expect(ack.stored).toBe(0);
    expect(ack.rejected.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(ack.rejected[0]?.reason).toMatch(/basic level/);
    launcher.ws.close();
  });
});

describe('a session in the second storage location', () => {
  it('stores pieces, seal and manifest there; reads, evidence, archive and delete follow it', async () => {
    expect((await putRules({ storage: 'RECORDINGS_EU', rules: [] })).status).toBe(200);
    const id = await recordedSession({ target: 'app-1.example' });
    expect((await detail(id)).storage).toBe('RECORDINGS_EU');
    const stored = await keys(env.RECORDINGS_EU, id);
    expect(stored).toContain(recordingKey(id, 'webm'));
    expect(stored).toContain(manifestKey(id));
    expect(stored.some((key) => key.includes('/pieces/'))).toBe(true);
    expect(await keys(env.RECORDINGS, id)).toEqual([]);

    const range = await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=0-99' } });
    expect(range.status).toBe(206);
    expect((await range.arrayBuffer()).byteLength).toBe(100);
    expect((await api(`/sessions/${id}/manifest`)).status).toBe(200);
    expect((await api(`/sessions/${id}/pieces/0.webm`)).status).toBe(200);

    const ended = ((await (await api(`/sessions/${id}`)).json()) as { endedAt: string }).endedAt;
    const settings = { archive: { enabled: true, afterDays: 30 }, delete: { enabled: true, afterDays: 400 } };
    expect((await api('/settings/recording/retention', { method: 'PUT', body: JSON.stringify(settings) })).status).toBe(
      200,
    );
    const sweep = async (at: number) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '0 3 * * *' }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    await sweep(Date.parse(ended) + 31 * DAY_MS);
    // Archived into the location's own archive bucket; the manifest stays with... its location.
    expect(await keys(env.RECORDINGS_EU, id)).toEqual([manifestKey(id)]);
    expect(await keys(env.ARCHIVE_EU, id)).toContain(recordingKey(id, 'webm'));
    expect(await keys(env.ARCHIVE, id)).toEqual([]);
    expect((await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=0-9' } })).status).toBe(206);

    await sweep(Date.parse(ended) + 401 * DAY_MS);
    expect(await keys(env.ARCHIVE_EU, id)).toEqual([]);
    expect(await keys(env.RECORDINGS_EU, id)).toEqual([manifestKey(id)]);
    await putRules({ storage: 'RECORDINGS', rules: [] });
  });
});
