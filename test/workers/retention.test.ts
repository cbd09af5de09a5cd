/**
 * Retention inside workerd with real D1 and R2: the scheduled sweep on a fake clock (the cron's scheduledTime)
 * archives and deletes, a legal hold exempts, backlogs go in bounded batches, an interrupted run is resumed; the
 * settings and hold endpoints refuse bad input and change nothing; every action is in the audit log.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { manifestKey, SignedManifest, sha256Hex } from '../../protocol/evidence.ts';
import { recordingKey } from '../../protocol/ingest.ts';
import { processingRecordKey } from '../../protocol/processing.ts';
import worker from '../../worker/index.ts';
import { SCHEMAS } from '../../worker/openapi/schemas.ts';
import { sweepRetention, type SweepSummary } from '../../worker/retention/sweep.ts';
import {
  api,
  connectLauncher,
  errorCode,
  fixturePieces,
  launch,
  putFixture,
  request,
  sealNow,
  storedPieceKey,
} from './helpers.ts';

const DAY_MS = 86_400_000;

/** A sealed session recorded from the fixture pieces, with two activity events. */
async function recordedWithActivity(): Promise<string> {
  const s = await launch();
  const launcher = await connectLauncher(s);
  const pieces = fixturePieces();
  for (let seq = 0; seq < pieces.length; seq++) {
    const res = await putFixture(s, seq);
    if (res.status !== 201) throw new Error(`piece ${seq}: ${res.status} ${await res.text()}`);
  }
  const batch = await request(`/ingest/v1/sessions/${s.sessionId}/events/0`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      events: [
        { type: 'keys', atMs: 100, endMs: 900, text: 'retention-probe<Enter>', window: { title: 't', app: 'xterm' } },
        { type: 'window.focus', atMs: 50, title: 'root@db-01', app: 'xterm', pid: 4242 },
      ],
    }),
  });
  if (batch.status !== 201) throw new Error(`activity: ${batch.status} ${await batch.text()}`);
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: pieces.length - 1 }));
  const ended = await launcher.nextJson();
  if (ended.type !== 'ended') throw new Error(`expected ended, got ${JSON.stringify(ended)}`);
  await sealNow(s.sessionId);
  return s.sessionId;
}

/** When the session ended, as D1 says. */
async function endedAt(id: string): Promise<number> {
  const row = await env.DB.prepare('SELECT ended_at FROM sessions WHERE id = ?1')
    .bind(id)
    .first<{ ended_at: number }>();
  if (!row) throw new Error(`no session ${id}`);
  return row.ended_at;
}

/** Every key under the session's prefix in a bucket. */
async function keys(bucket: R2Bucket, id: string): Promise<string[]> {
  return (await bucket.list({ prefix: `sessions/${id}/` })).objects.map((o) => o.key).sort();
}

async function setRetention(body: unknown): Promise<Response> {
  return api('/settings/recording/retention', { method: 'PUT', body: JSON.stringify(body) });
}

/** Runs the Worker's scheduled handler as the cron would at `scheduledTime`, and returns the run's summary. */
async function cron(scheduledTime: number): Promise<SweepSummary> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: '0 3 * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
  const row = await env.DB.prepare(
    `SELECT details FROM audit_log WHERE action = 'retention.run' ORDER BY id DESC LIMIT 1`,
  ).first<{ details: string }>();
  if (!row) throw new Error('the run wrote no audit row');
  return JSON.parse(row.details) as SweepSummary;
}

interface AuditRow {
  action: string;
  actor_kind: string;
  actor_name: string;
  target_id: string | null;
  details: Record<string, unknown>;
}

async function auditFor(id: string): Promise<AuditRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT action, actor_kind, actor_name, target_id, details FROM audit_log WHERE target_id = ?1 ORDER BY id`,
  )
    .bind(id)
    .all<Omit<AuditRow, 'details'> & { details: string | null }>();
  return results.map((r) => ({ ...r, details: r.details ? JSON.parse(r.details) : {} }));
}

async function auditCount(): Promise<number> {
  return (await env.DB.prepare('SELECT count(*) AS n FROM audit_log').first<{ n: number }>())?.n ?? 0;
}

async function activityRows(id: string): Promise<number> {
  return (
    (await env.DB.prepare('SELECT count(*) AS n FROM activity WHERE session_id = ?1').bind(id).first<{ n: number }>())
      ?.n ?? 0
  );
}

async function session(id: string) {
  return (await (await api(`/sessions/${id}`)).json()) as {
    recording: { url: string | null };
    retention: { state: string | null; notice: string | null; hold: { reason: string } | null };
  };
}

function hold(id: string, reason?: string, method: 'PUT' | 'DELETE' = 'PUT') {
  return api(`/sessions/${id}/hold`, { method, body: JSON.stringify(reason === undefined ? {} : { reason }) });
}

describe('retention settings', () => {
  it('are off by default, saved when valid, and audited with the old and new value', async () => {
    expect(await (await api('/settings/recording/retention')).json()).toEqual({
      archive: { enabled: false, afterDays: 90 },
      delete: { enabled: false, afterDays: 365 },
    });
    const res = await setRetention({ archive: { enabled: true, afterDays: 30 }, delete: { enabled: true } });
    expect(res.status).toBe(200);
    const saved = { archive: { enabled: true, afterDays: 30 }, delete: { enabled: true, afterDays: 365 } };
    expect(await res.json()).toEqual(saved);
    expect(await (await api('/settings/recording/retention')).json()).toEqual(saved);
    const row = await env.DB.prepare(
      `SELECT details FROM audit_log WHERE action = 'settings.changed' AND target_id = 'retention' ORDER BY id DESC`,
    ).first<{ details: string }>();
    expect(JSON.parse(row?.details ?? '{}')).toEqual({
      before: { archive: { enabled: false, afterDays: 90 }, delete: { enabled: false, afterDays: 365 } },
      after: saved,
    });
  });

  it('refuses out-of-range and out-of-order rules with a 400 and changes nothing', async () => {
    const good = { archive: { enabled: true, afterDays: 10 }, delete: { enabled: true, afterDays: 20 } };
    expect((await setRetention(good)).status).toBe(200);
    const audited = await auditCount();
    const bad: Array<[unknown, string]> = [
      [{ archive: { afterDays: 20 } }, 'retention_order'],
      [{ delete: { afterDays: 5 } }, 'retention_order'],
      [{ archive: { afterDays: 30 }, delete: { afterDays: 30 } }, 'retention_order'],
      [{ delete: { afterDays: -1 } }, 'invalid_json'],
      [{ delete: { afterDays: 0 } }, 'invalid_json'],
      [{ delete: { afterDays: 1.5 } }, 'invalid_json'],
      [{ delete: { afterDays: 36_501 } }, 'invalid_json'],
      [{ delete: { afterDays: '30' } }, 'invalid_json'],
      [{ delete: { enabled: 'yes' } }, 'invalid_json'],
      [{ purge: { afterDays: 3 } }, 'invalid_json'],
    ];
    for (const [body, code] of bad) {
      const res = await setRetention(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(res), JSON.stringify(body)).toBe(code);
    }
    const notJson = await api('/settings/recording/retention', { method: 'PUT', body: '{' });
    expect(notJson.status).toBe(400);
    expect(await (await api('/settings/recording/retention')).json()).toEqual(good);
    expect(await auditCount()).toBe(audited);
    // Archiving after deletion is fine while one of them is off.
    expect((await setRetention({ archive: { enabled: false, afterDays: 40 } })).status).toBe(200);
  });

  it('may be read and changed only with Administer Session Recording', async () => {
    const created = await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'reader', scopes: ['read'] }) });
    const { secret: key } = (await created.json()) as { secret: string };
    const asReader = { authorization: `Bearer ${key}` };
    expect((await api('/settings/recording/retention', { headers: asReader })).status).toBe(403);
    const put = await api('/settings/recording/retention', {
      method: 'PUT',
      headers: asReader,
      body: JSON.stringify({ delete: { enabled: true } }),
    });
    expect(put.status).toBe(403);
  });
});

describe('the scheduled sweep', () => {
  it('archives after N days: the media moves to the archive bucket, still plays, the manifest stays', async () => {
    const id = await recordedWithActivity();
    const before = await keys(env.RECORDINGS, id);
    expect(before).toContain(recordingKey(id, 'webm'));
    const original = new Uint8Array(await (await api(`/sessions/${id}/recording.webm`)).arrayBuffer());
    expect((await setRetention({ archive: { enabled: true, afterDays: 30 }, delete: { enabled: false } })).status).toBe(
      200,
    );
    const ended = await endedAt(id);

    // A day early nothing happens.
    await cron(ended + 29 * DAY_MS);
    expect((await session(id)).retention.state).toBeNull();

    const summary = await cron(ended + 30 * DAY_MS);
    expect(summary.archived).toBeGreaterThanOrEqual(1);
    expect(summary.complete).toBe(true);
    expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
    expect(await keys(env.ARCHIVE, id)).toEqual(before.filter((k) => k !== manifestKey(id)));
    expect((await session(id)).retention.state).toBe('archived');
    // Read from the archive: the same bytes, by Range too; pieces as well.
    const played = await api(`/sessions/${id}/recording.webm`);
    expect(played.status).toBe(200);
    expect(new Uint8Array(await played.arrayBuffer())).toEqual(original);
    const ranged = await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(original.slice(0, 10));
    const piece = await api(`/sessions/${id}/pieces/0.webm`);
    expect(new Uint8Array(await piece.arrayBuffer())).toEqual(fixturePieces()[0]?.bytes);
    expect((await api(`/sessions/${id}/manifest`)).status).toBe(200);

    const trail = await auditFor(id);
    const archived = trail.find((r) => r.action === 'session.archived');
    expect(archived).toMatchObject({ actor_kind: 'system', actor_name: 'retention' });
    expect(archived?.details).toMatchObject({ runId: summary.runId, rule: 'archive after 30 days' });
  });

  it('deletes after N days: media and activity go, the session, manifest and audit trail stay', async () => {
    const id = await recordedWithActivity();
    const manifest = await (await api(`/sessions/${id}/manifest`)).text();
    expect(await activityRows(id)).toBe(2);
    expect((await setRetention({ archive: { enabled: false }, delete: { enabled: true, afterDays: 60 } })).status).toBe(
      200,
    );
    const ended = await endedAt(id);
    const at = ended + 61 * DAY_MS;
    const summary = await cron(at);
    expect(summary.deleted).toBeGreaterThanOrEqual(1);
    expect(summary.events).toBeGreaterThanOrEqual(2);

    expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
    expect(await keys(env.ARCHIVE, id)).toEqual([]);
    expect(await activityRows(id)).toBe(0);
    // The search index forgot its events too.
    const search = (await (await api('/sessions?q=retention-probe')).json()) as { sessions: Array<{ id: string }> };
    expect(search.sessions.map((s) => s.id)).not.toContain(id);

    const view = await session(id);
    expect(view.retention.state).toBe('deleted');
    expect(view.retention.notice).toBe(`recording deleted by retention on ${new Date(at).toISOString().slice(0, 10)}`);
    expect(view.recording.url).toBeNull();

    for (const path of ['recording.webm', 'pieces/0.webm', 'activity', 'activity/density']) {
      const res = await api(`/sessions/${id}/${path}`);
      expect(res.status, path).toBe(410);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, path).toBe('media_deleted');
      expect(body.error.message, path).toContain(new Date(at).toISOString().slice(0, 10));
    }
    const kept = await api(`/sessions/${id}/manifest`);
    expect(kept.status).toBe(200);
    expect(kept.headers.get('x-witness-media')).toBe(`deleted ${new Date(at).toISOString()}`);
    expect(await kept.text()).toBe(manifest);
    expect(SignedManifest.parse(JSON.parse(manifest)).manifest.sessionId).toBe(id);

    const trail = await auditFor(id);
    expect(trail.map((r) => r.action)).toContain('session.launched');
    const deleted = trail.find((r) => r.action === 'session.media_deleted');
    expect(deleted).toMatchObject({ actor_kind: 'system', actor_name: 'retention' });
    expect(deleted?.details).toMatchObject({ runId: summary.runId, activityEvents: 2 });
    // A session already deleted is not deleted again.
    const again = await cron(at + DAY_MS);
    expect(again.deleted).toBe(0);
  });

  it('drops a conversion of the session it deletes, so no MP4 is stored after its media', async () => {
    const id = await recordedWithActivity();
    expect((await api(`/sessions/${id}/processing`, { method: 'POST' })).status).toBe(202);
    const jobs = () =>
      env.DB.prepare('SELECT count(*) AS n FROM processing_jobs WHERE session_id = ?').bind(id).first<{ n: number }>();
    expect((await jobs())?.n).toBe(1);
    await setRetention({ archive: { enabled: false }, delete: { enabled: true, afterDays: 1 } });
    await cron((await endedAt(id)) + 2 * DAY_MS);
    expect((await session(id)).retention.state).toBe('deleted');
    expect((await jobs())?.n).toBe(0);
  });

  it('archives, then deletes what it archived, from the archive bucket', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: true, afterDays: 10 }, delete: { enabled: true, afterDays: 20 } });
    const ended = await endedAt(id);
    await cron(ended + 11 * DAY_MS);
    expect((await keys(env.ARCHIVE, id)).length).toBeGreaterThan(0);
    await cron(ended + 21 * DAY_MS);
    expect(await keys(env.ARCHIVE, id)).toEqual([]);
    expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
    expect((await session(id)).retention.state).toBe('deleted');
  });

  it('never deletes a held session until the hold is released; hold and release are audited with reasons', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: false }, delete: { enabled: true, afterDays: 7 } });
    const placed = await hold(id, 'Case 2026-114: litigation hold');
    expect(placed.status).toBe(200);
    expect(await placed.json()).toMatchObject({ hold: { reason: 'Case 2026-114: litigation hold' } });
    expect((await session(id)).retention.hold?.reason).toBe('Case 2026-114: litigation hold');

    const ended = await endedAt(id);
    const summary = await cron(ended + 8 * DAY_MS);
    expect(summary.remaining.held).toBeGreaterThanOrEqual(1);
    expect((await session(id)).retention.state).toBeNull();
    expect((await api(`/sessions/${id}/recording.webm`)).status).toBe(200);

    const released = await hold(id, 'Case closed', 'DELETE');
    expect(released.status).toBe(200);
    expect(await released.json()).toEqual({ hold: null });
    await cron(ended + 9 * DAY_MS);
    expect((await session(id)).retention.state).toBe('deleted');

    const trail = await auditFor(id);
    const actions = trail.map((r) => r.action);
    expect(actions.indexOf('session.held')).toBeLessThan(actions.indexOf('session.released'));
    expect(actions.indexOf('session.released')).toBeLessThan(actions.indexOf('session.media_deleted'));
    expect(trail.find((r) => r.action === 'session.held')?.details).toEqual({
      reason: 'Case 2026-114: litigation hold',
    });
    expect(trail.find((r) => r.action === 'session.released')?.details).toMatchObject({
      reason: 'Case closed',
      held: { reason: 'Case 2026-114: litigation hold' },
    });
    // Its media is gone: it can no longer be held.
    const late = await hold(id, 'too late');
    expect(late.status).toBe(409);
    expect(await errorCode(late)).toBe('media_deleted');
  });

  it('works off a backlog in bounded batches, each run going on where the last one stopped', async () => {
    const ids = [await recordedWithActivity(), await recordedWithActivity(), await recordedWithActivity()];
    await setRetention({ archive: { enabled: true, afterDays: 5 }, delete: { enabled: false } });
    const at = Math.max(...(await Promise.all(ids.map(endedAt)))) + 6 * DAY_MS;
    const states = async () => Promise.all(ids.map(async (id) => (await session(id)).retention.state));

    // A budget that moves a few objects per run: more than one run per session.
    const first = await sweepRetention(env, { now: at, batchSize: 1, operations: 12 });
    expect(first.complete).toBe(false);
    expect(first.remaining.archive).toBeGreaterThan(0);
    let runs = 1;
    let last = first;
    while (!last.complete) {
      last = await sweepRetention(env, { now: at, batchSize: 1, operations: 12 });
      runs++;
      expect(runs, 'the backlog must shrink each run').toBeLessThan(40);
    }
    expect(runs).toBeGreaterThan(ids.length);
    expect(await states()).toEqual(['archived', 'archived', 'archived']);
    for (const id of ids) {
      expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
      // Every object moved exactly once, whatever run moved it.
      expect((await keys(env.ARCHIVE, id)).length).toBe(fixturePieces().length + 1);
      expect((await api(`/sessions/${id}/recording.webm`)).status).toBe(200);
      expect((await auditFor(id)).filter((r) => r.action === 'session.archived')).toHaveLength(1);
    }
  });

  it('resumes a deletion an interrupted run left half done; reads are refused meanwhile', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: false }, delete: { enabled: true, afterDays: 3 } });
    const at = (await endedAt(id)) + 4 * DAY_MS;
    // What a run that died mid-deletion leaves: its run row open, the session marked, part of its media gone.
    const crashedRun = crypto.randomUUID();
    await env.DB.prepare(`INSERT INTO retention_runs (id, started_at, summary) VALUES (?1, ?2, '{"deleted":0}')`)
      .bind(crashedRun, at - 60_000)
      .run();
    await env.DB.prepare(`UPDATE sessions SET retention = 'deleting', media_deleted_at = ?2 WHERE id = ?1`)
      .bind(id, at - 60_000)
      .run();
    const half = await storedPieceKey(id, 0);
    if (!half) throw new Error('no piece 0');
    await env.RECORDINGS.delete([half, recordingKey(id, 'webm')]);
    expect((await api(`/sessions/${id}/recording.webm`)).status).toBe(410);
    expect((await api(`/sessions/${id}/pieces/1.webm`)).status).toBe(410);

    const summary = await cron(at);
    expect(summary.resumed).toBe(crashedRun);
    expect(summary.finished).toBeGreaterThanOrEqual(1);
    expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
    expect(await activityRows(id)).toBe(0);
    expect((await session(id)).retention.state).toBe('deleted');
    const closed = await env.DB.prepare('SELECT finished_at, summary FROM retention_runs WHERE id = ?1')
      .bind(crashedRun)
      .first<{ finished_at: number | null; summary: string }>();
    expect(closed?.finished_at).not.toBeNull();
    expect(JSON.parse(closed?.summary ?? '{}')).toMatchObject({ interrupted: true, resumedBy: summary.runId });
    const deleted = (await auditFor(id)).find((r) => r.action === 'session.media_deleted');
    expect(deleted?.details).toMatchObject({ rule: 'finished a deletion begun earlier' });
  });

  it('finishes an archive an interrupted run left half moved; nothing is unreadable meanwhile', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: true, afterDays: 2 }, delete: { enabled: false } });
    const at = (await endedAt(id)) + 3 * DAY_MS;
    // Half moved, as a run cut short leaves it: the sealed file is in the archive, the pieces are not.
    const key = recordingKey(id, 'webm');
    const original = await env.RECORDINGS.get(key);
    if (!original) throw new Error('no recording');
    const bytes = new Uint8Array(await original.arrayBuffer());
    await env.ARCHIVE.put(key, bytes);
    await env.RECORDINGS.delete(key);
    const played = await api(`/sessions/${id}/recording.webm`);
    expect(played.status).toBe(200);
    expect(new Uint8Array(await played.arrayBuffer())).toEqual(bytes);

    await cron(at);
    expect((await session(id)).retention.state).toBe('archived');
    expect(await keys(env.RECORDINGS, id)).toEqual([manifestKey(id)]);
    expect(await keys(env.ARCHIVE, id)).toContain(key);
  });

  it('copies a large object in parts, byte for byte, and keeps the signed records where they are', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: true, afterDays: 1 }, delete: { enabled: false } });
    // An MP4 as a processor would leave it: larger than the (test's) single-put limit, so copied in three parts.
    const bytes = new Uint8Array(11 * 1024 * 1024 + 17).map((_, i) => (i * 31 + (i >> 20)) % 251);
    const mp4 = `sessions/${id}/derived/lease-1.mp4`;
    const record = processingRecordKey(id);
    await env.RECORDINGS.put(mp4, bytes);
    await env.RECORDINGS.put(record, '{"signed":"processing record"}');
    const summary = await sweepRetention(env, {
      now: (await endedAt(id)) + 2 * DAY_MS,
      copy: { singlePutBytes: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 },
    });
    expect(summary.failures).toEqual([]);
    const copied = await env.ARCHIVE.get(mp4);
    expect(copied?.size).toBe(bytes.length);
    expect(await sha256Hex(new Uint8Array(await (copied as R2ObjectBody).arrayBuffer()))).toBe(await sha256Hex(bytes));
    expect(await keys(env.RECORDINGS, id)).toEqual([record, manifestKey(id)].sort());

    await setRetention({ archive: { enabled: true, afterDays: 1 }, delete: { enabled: true, afterDays: 2 } });
    await sweepRetention(env, { now: (await endedAt(id)) + 3 * DAY_MS });
    expect(await keys(env.ARCHIVE, id)).toEqual([]);
    expect(await keys(env.RECORDINGS, id)).toEqual([record, manifestKey(id)].sort());
  });

  it('refuses to archive a piece whose bytes are not what the evidence says, and leaves it where it is', async () => {
    const id = await recordedWithActivity();
    await setRetention({ archive: { enabled: true, afterDays: 1 }, delete: { enabled: false } });
    const key = await storedPieceKey(id, 1);
    if (!key) throw new Error('no piece 1');
    await env.RECORDINGS.put(key, new TextEncoder().encode('not the bytes that were recorded'));
    const summary = await sweepRetention(env, { now: (await endedAt(id)) + 2 * DAY_MS });
    expect(summary.failures.map((f) => f.sessionId)).toContain(id);
    expect(await env.RECORDINGS.head(key)).not.toBeNull();
    expect(await env.ARCHIVE.head(key)).toBeNull();
    expect((await session(id)).retention.state).toBeNull();
    expect(summary.complete).toBe(false);
  });

  it('writes one audit row per run with what it did', async () => {
    await setRetention({ archive: { enabled: false }, delete: { enabled: false } });
    const at = Date.now() + 1000 * DAY_MS;
    const summary = await cron(at);
    expect(summary).toMatchObject({
      archived: 0,
      deleted: 0,
      complete: true,
      cutoffs: { archive: null, delete: null },
      settings: { archive: { enabled: false }, delete: { enabled: false } },
    });
    const row = await env.DB.prepare(
      `SELECT actor_kind, actor_name, target_type, target_id FROM audit_log WHERE action = 'retention.run' ORDER BY id DESC`,
    ).first();
    expect(row).toEqual({
      actor_kind: 'system',
      actor_name: 'retention',
      target_type: 'retention',
      target_id: summary.runId,
    });
  });
});

describe('the next run, as Settings shows it', () => {
  it('counts what the next scheduled run would archive, delete and keep for a hold', async () => {
    const [archiveMe, deleteMe, heldOne] = [
      await recordedWithActivity(),
      await recordedWithActivity(),
      await recordedWithActivity(),
    ];
    await setRetention({ archive: { enabled: true, afterDays: 30 }, delete: { enabled: true, afterDays: 90 } });
    const backdate = (id: string, days: number) =>
      env.DB.prepare('UPDATE sessions SET ended_at = ?2 WHERE id = ?1')
        .bind(id, Date.now() - days * DAY_MS)
        .run();
    const base = (await (await api('/settings/recording/retention/next-run')).json()) as Record<string, number>;
    await backdate(archiveMe, 45);
    await backdate(deleteMe, 120);
    await backdate(heldOne, 120);
    expect((await hold(heldOne, 'Audit 7')).status).toBe(200);
    const res = await api('/settings/recording/retention/next-run');
    expect(res.status).toBe(200);
    const next = (await res.json()) as {
      at: string;
      archive: number;
      delete: number;
      held: number;
      unfinished: number;
    };
    expect(next.archive - (base.archive ?? 0)).toBe(2); // archiveMe, and heldOne: a hold keeps it from deletion only
    expect(next.delete - (base.delete ?? 0)).toBe(1);
    expect(next.held - (base.held ?? 0)).toBe(1);
    expect(Date.parse(next.at)).toBeGreaterThan(Date.now());
    expect(new Date(next.at).getUTCHours()).toBe(3);
  });
});

describe('documented replies', () => {
  it('match the OpenAPI schemas', async () => {
    const id = await recordedWithActivity();
    const parses = async (res: Response, schema: { safeParse: (v: unknown) => { success: boolean } }) => {
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(schema.safeParse(body).success, JSON.stringify(body)).toBe(true);
    };
    await parses(await api('/settings/recording/retention'), SCHEMAS.RetentionSettings);
    await parses(await api('/settings/recording/retention/next-run'), SCHEMAS.RetentionPreview);
    await parses(await api(`/sessions/${id}/retention`), SCHEMAS.SessionRetention);
    await parses(await hold(id, 'schema check'), SCHEMAS.HoldReply);
    await parses(await api(`/sessions/${id}/retention`), SCHEMAS.SessionRetention);
    await parses(await hold(id, 'schema check', 'DELETE'), SCHEMAS.HoldReply);
    await parses(await api(`/sessions/${id}`), SCHEMAS.Session);
  });
});

describe('bad requests on sessions', () => {
  it('answers 404 for retention and holds of a session that does not exist, and 400 for a bad id', async () => {
    const missing = crypto.randomUUID();
    for (const res of [
      await api(`/sessions/${missing}/retention`),
      await hold(missing, 'a reason'),
      await hold(missing, 'a reason', 'DELETE'),
    ]) {
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('session_not_found');
    }
    const bad = await hold('not-a-session', 'a reason');
    expect(bad.status).toBe(400);
  });

  it('refuses a hold without a reason, a second hold, and the release of a session not held', async () => {
    const id = await recordedWithActivity();
    const audited = await auditCount();
    for (const body of [undefined, '', '   ']) {
      const res = await hold(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(res)).toBe('invalid_json');
    }
    const notHeld = await hold(id, 'nothing to release', 'DELETE');
    expect(notHeld.status).toBe(409);
    expect(await errorCode(notHeld)).toBe('not_held');
    expect(await auditCount()).toBe(audited);
    expect((await session(id)).retention.hold).toBeNull();

    expect((await hold(id, 'first')).status).toBe(200);
    const twice = await hold(id, 'second');
    expect(twice.status).toBe(409);
    expect(await errorCode(twice)).toBe('already_held');
    expect((await session(id)).retention.hold?.reason).toBe('first');
    const noReason = await hold(id, undefined, 'DELETE');
    expect(noReason.status).toBe(400);
    expect((await session(id)).retention.hold?.reason).toBe('first');
  });

  it('lets only Administer Session Recording place a hold', async () => {
    const id = await recordedWithActivity();
    const created = await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'viewer', scopes: ['read'] }) });
    const { secret: key } = (await created.json()) as { secret: string };
    const res = await api(`/sessions/${id}/hold`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ reason: 'mine' }),
    });
    expect(res.status).toBe(403);
    expect((await session(id)).retention.hold).toBeNull();
    // A reader may see what retention will do.
    expect((await api(`/sessions/${id}/retention`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });
});
