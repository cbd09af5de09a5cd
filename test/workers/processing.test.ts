/**
 * MP4 processing in workerd with real D1 and R2: requests and what they refuse, the job queue's leases (two
 * processors, one job; a lease that runs out; retry with backoff; a deterministic failure), the upload checked
 * with mediabunny and signed, the MP4 served by Range, the settings, and an audit row for every action.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { manifestSignatureValid, SignedManifest } from '../../protocol/evidence.ts';
import { fromBase64 } from '../../protocol/evidence.ts';
import { LEASE_HEADER, type LeasedJob, mp4Key, PART_BYTES } from '../../protocol/processing.ts';
import { api, connectLauncher, errorCode, launch, recordedSession, sealNow } from './helpers.ts';

const mp4 = (name: 'matching' | 'short' | 'wrongCodec') => fromBase64(inject('mp4')[name]);

async function processorKey(): Promise<string> {
  const res = await api('/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'processor', scopes: ['processor'] }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { secret: string }).secret;
}

/** Calls the API as a processor. */
function as(key: string) {
  return (path: string, init: RequestInit = {}) =>
    api(path, {
      ...init,
      headers: { ...Object.fromEntries(new Headers(init.headers)), authorization: `Bearer ${key}` },
    });
}

const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

async function lease(processor: ReturnType<typeof as>, leaseSeconds = 60): Promise<LeasedJob | null> {
  const res = await processor('/processing/lease', post({ encoders: ['h264'], leaseSeconds }));
  if (res.status === 204) return null;
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Leases until it gets `sessionId`'s job (other tests in this file may have queued jobs first). */
async function leaseOf(processor: ReturnType<typeof as>, sessionId: string, leaseSeconds = 60): Promise<LeasedJob> {
  for (;;) {
    const job = await lease(processor, leaseSeconds);
    if (!job) throw new Error(`no job for ${sessionId} was due`);
    if (job.sessionId === sessionId) return job;
    await processor(`/processing/jobs/${job.sessionId}/failure`, post(failure(job, false, 'not this test')));
  }
}

function failure(job: LeasedJob, retryable: boolean, message: string, exitCode: number | null = null) {
  return { leaseId: job.leaseId, retryable, cause: { message, exitCode, signal: null, stderrTail: 'tail of stderr' } };
}

async function requestMp4(sessionId: string): Promise<Response> {
  return api(`/sessions/${sessionId}/processing`, { method: 'POST' });
}

async function uploadMp4(processor: ReturnType<typeof as>, job: LeasedJob, bytes: Uint8Array): Promise<Response> {
  expect((await processor(`/processing/jobs/${job.sessionId}/upload`, post({ leaseId: job.leaseId }))).status).toBe(
    201,
  );
  let part = 0;
  for (let at = 0; at < bytes.byteLength; at += PART_BYTES) {
    part++;
    const res = await processor(`/processing/jobs/${job.sessionId}/parts/${part}`, {
      method: 'PUT',
      headers: { [LEASE_HEADER]: job.leaseId, 'content-type': 'application/octet-stream' },
      body: bytes.subarray(at, at + PART_BYTES),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }
  return processor(`/processing/jobs/${job.sessionId}/complete`, post({ leaseId: job.leaseId, parts: part }));
}

async function jobRow(sessionId: string) {
  return env.DB.prepare('SELECT * FROM processing_jobs WHERE session_id = ?').bind(sessionId).first<{
    status: string;
    attempts: number;
    lease_id: string | null;
    not_before: number;
    error: string | null;
  }>();
}

async function processingOf(sessionId: string) {
  const res = await api(`/sessions/${sessionId}`);
  return ((await res.json()) as { processing: Record<string, unknown> | null }).processing;
}

async function auditActions(sessionId: string): Promise<string[]> {
  const rows = await env.DB.prepare('SELECT action FROM audit_log WHERE target_id = ? ORDER BY id')
    .bind(sessionId)
    .all<{ action: string }>();
  return rows.results.map((r) => r.action);
}

/** Moves a lease's end into the past, as if its processor had stopped renewing it long ago. */
async function expireLease(sessionId: string): Promise<void> {
  await env.DB.prepare('UPDATE processing_jobs SET lease_expires_at = ? WHERE session_id = ?')
    .bind(Date.now() - 1, sessionId)
    .run();
}

describe('asking for an MP4', () => {
  it('refuses a live, unsealed, unrecorded, deleted or SSH session, and stores nothing', async () => {
    const live = await launch();
    const ssh = await launch({ protocol: 'ssh' });
    const unsealed = await launch();
    const launcher = await connectLauncher(unsealed);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: null }));
    expect((await launcher.nextJson()).type).toBe('ended');
    const unrecorded = await launch({ policy: { recordingEnabled: false } });
    const off = await connectLauncher(unrecorded);
    off.ws.send(JSON.stringify({ type: 'end', lastSeq: null }));
    expect((await off.nextJson()).type).toBe('ended');
    const deleted = await recordedSession();
    await env.DB.prepare(`UPDATE sessions SET retention = 'deleted' WHERE id = ?`).bind(deleted).run();
    const cases: Array<[string, number, string]> = [
      [live.sessionId, 409, 'session_live'],
      [ssh.sessionId, 422, 'not_a_video'],
      [unsealed.sessionId, 409, 'not_sealed'],
      [unrecorded.sessionId, 409, 'recording_disabled'],
      [deleted, 410, 'media_deleted'],
      [crypto.randomUUID(), 404, 'session_not_found'],
    ];
    for (const [id, status, code] of cases) {
      const res = await requestMp4(id);
      expect(res.status, code).toBe(status);
      expect(await errorCode(res)).toBe(code);
      expect(await jobRow(id)).toBeNull();
    }
    const bad = await api('/sessions/not-a-uuid/processing', { method: 'POST' });
    expect(bad.status).toBe(400);
  });
});

describe('the job queue', () => {
  it('converts: request, one lease for two processors, source by Range, progress, upload, signed, served', async () => {
    const id = await recordedSession();
    const requested = await requestMp4(id);
    expect(requested.status).toBe(202);
    expect(((await requested.json()) as { processing: { status: string } }).processing.status).toBe('queued');
    expect((await requestMp4(id)).status).toBe(200); // asked again: the same job
    const list = (await (await api('/sessions?limit=200')).json()) as {
      sessions: Array<{ id: string; processing: { status: string } | null }>;
    };
    expect(list.sessions.find((s) => s.id === id)?.processing?.status).toBe('queued');

    const a = as(await processorKey());
    const b = as(await processorKey());
    const [first, second] = await Promise.all([lease(a), lease(b)]);
    const taken = [first, second].filter((job): job is LeasedJob => job?.sessionId === id);
    expect(taken).toHaveLength(1); // two processors asked at once: one holds the job
    const job = taken[0] as LeasedJob;
    const holder = job === first ? a : b;
    const other = job === first ? b : a;
    expect(job).toMatchObject({ attempt: 1, codec: 'h264', partBytes: PART_BYTES });
    expect(await processingOf(id)).toMatchObject({ status: 'processing', attempts: 1, percent: 0 });

    // The source by Range, with the lease; without it, or with another's, nothing.
    const manifest = SignedManifest.parse(await (await api(`/sessions/${id}/manifest`)).json()).manifest;
    expect(job.source).toMatchObject({ size: manifest.recording?.size, sha256: manifest.recording?.sha256 });
    const range = await holder(job.source.url.replace('/api/v1', ''), {
      headers: { [LEASE_HEADER]: job.leaseId, range: 'bytes=0-3' },
    });
    expect(range.status).toBe(206);
    expect([...new Uint8Array(await range.arrayBuffer())]).toEqual([0x1a, 0x45, 0xdf, 0xa3]);
    const stranger = await other(job.source.url.replace('/api/v1', ''), { headers: { [LEASE_HEADER]: job.leaseId } });
    expect(stranger.status).toBe(200); // the lease is the credential for the job, the key for the permission
    await stranger.arrayBuffer();
    const noLease = await holder(job.source.url.replace('/api/v1', ''), {
      headers: { [LEASE_HEADER]: crypto.randomUUID() },
    });
    expect(noLease.status).toBe(409);
    expect(await errorCode(noLease)).toBe('lease_not_held');

    const progress = await holder(`/processing/jobs/${id}/progress`, post({ leaseId: job.leaseId, percent: 42.5 }));
    expect(progress.status).toBe(200);
    expect(await processingOf(id)).toMatchObject({ status: 'processing', percent: 42 });

    const bytes = mp4('matching');
    const done = await uploadMp4(holder, job, bytes);
    expect(done.status, await done.clone().text()).toBe(200);
    const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
      .map((x) => x.toString(16).padStart(2, '0'))
      .join('');
    const view = (await (await api(`/sessions/${id}/processing`)).json()) as {
      processing: Record<string, unknown>;
      record: { record: Record<string, unknown> & { source: { sha256: string } }; signature: string };
    };
    expect(view.processing).toMatchObject({
      status: 'ready',
      bytes: bytes.byteLength,
      sha256,
      percent: 100,
      error: null,
    });
    expect(view.record.record).toMatchObject({
      kind: 'witness-derived-recording',
      sessionId: id,
      source: { sha256: manifest.recording?.sha256 },
      output: { sha256, size: bytes.byteLength, codec: 'h264', container: 'mp4' },
    });
    const publicKey = fromBase64(
      ((await (await api('/evidence/public-key')).json()) as { publicKey: string }).publicKey,
    );
    expect(await manifestSignatureValid(view.record.record, view.record.signature, publicKey)).toBe(true);
    expect(await manifestSignatureValid({ ...view.record.record, attempt: 9 }, view.record.signature, publicKey)).toBe(
      false,
    );

    const served = await api(`/sessions/${id}/recording.mp4`, { headers: { range: 'bytes=4-7' } });
    expect(served.status).toBe(206);
    expect(served.headers.get('content-type')).toBe('video/mp4');
    expect(new TextDecoder().decode(await served.arrayBuffer())).toBe('ftyp');
    const whole = await api(`/sessions/${id}/recording.mp4?download=1`);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);

    // Done is done: the old lease can report nothing more.
    const late = await holder(`/processing/jobs/${id}/progress`, post({ leaseId: job.leaseId, percent: 50 }));
    expect(late.status).toBe(409);
    expect(await auditActions(id)).toEqual(
      expect.arrayContaining([
        'processing.requested',
        'processing.leased',
        'processing.source_read',
        'processing.completed',
        'recording.viewed',
        'recording.downloaded',
      ]),
    );
    expect((await auditActions(id)).filter((a) => a === 'processing.requested')).toHaveLength(2);
  });

  it('many processors asking at once share no job', async () => {
    const ids = [await recordedSession(), await recordedSession(), await recordedSession()];
    for (const id of ids) expect((await requestMp4(id)).status).toBe(202);
    const processors = await Promise.all(Array.from({ length: 8 }, async () => as(await processorKey())));
    const jobs = await Promise.all(processors.map((p) => lease(p)));
    const taken = jobs.flatMap((job) => (job ? [job.sessionId] : []));
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await jobRow(id)).toMatchObject({ status: 'processing', attempts: 1 });
  });

  it('a lease that runs out goes back to the queue; the old holder can no longer report or upload', async () => {
    const id = await recordedSession();
    await requestMp4(id);
    const a = as(await processorKey());
    const b = as(await processorKey());
    const first = await leaseOf(a, id, 5);
    await expireLease(id);
    expect(await processingOf(id)).toMatchObject({ status: 'queued', attempts: 1 });
    const second = await leaseOf(b, id);
    expect(second.attempt).toBe(2);
    expect(second.leaseId).not.toBe(first.leaseId);
    expect(await processingOf(id)).toMatchObject({
      status: 'processing',
      error: { message: expect.stringContaining('the lease of attempt 1 ran out') },
    });
    const report = await a(`/processing/jobs/${id}/progress`, post({ leaseId: first.leaseId, percent: 10 }));
    expect(report.status).toBe(409);
    expect(await errorCode(report)).toBe('lease_not_held');
    const upload = await a(`/processing/jobs/${id}/upload`, post({ leaseId: first.leaseId }));
    expect(upload.status).toBe(409);
    const part = await a(`/processing/jobs/${id}/parts/1`, {
      method: 'PUT',
      headers: { [LEASE_HEADER]: first.leaseId },
      body: mp4('matching'),
    });
    expect(part.status).toBe(409);
    // And a processor's lease is for its job only.
    const elsewhere = await recordedSession();
    await requestMp4(elsewhere);
    const otherJob = await leaseOf(a, elsewhere);
    const crossed = await a(`/processing/jobs/${id}/progress`, post({ leaseId: otherJob.leaseId, percent: 1 }));
    expect(crossed.status).toBe(409);
    expect((await jobRow(id))?.lease_id).toBe(second.leaseId);
  });

  it('a retryable failure waits out its backoff; the last attempt fails for good', async () => {
    const id = await recordedSession();
    await requestMp4(id);
    const p = as(await processorKey());
    const job = await leaseOf(p, id);
    const before = Date.now();
    const res = await p(`/processing/jobs/${id}/failure`, post(failure(job, true, 'network down')));
    expect(res.status).toBe(200);
    const row = await jobRow(id);
    expect(row?.status).toBe('queued');
    expect(row?.not_before).toBeGreaterThanOrEqual(before + 15_000);
    expect(await lease(p)).toBeNull(); // not due yet
    for (let attempt = 2; attempt <= 5; attempt++) {
      await env.DB.prepare('UPDATE processing_jobs SET not_before = 0 WHERE session_id = ?').bind(id).run();
      const next = await leaseOf(p, id);
      expect(next.attempt).toBe(attempt);
      const after = (await (
        await p(`/processing/jobs/${id}/failure`, post(failure(next, true, `network down ${attempt}`)))
      ).json()) as { processing: { status: string; notBefore: string | null } };
      expect(after.processing.status).toBe(attempt < 5 ? 'queued' : 'failed');
    }
    expect(await processingOf(id)).toMatchObject({
      status: 'failed',
      attempts: 5,
      error: { message: 'network down 5' },
    });
  });

  it('a deterministic failure stops, shows its cause, and Retry (one, or every failed one) queues it again', async () => {
    const id = await recordedSession();
    await requestMp4(id);
    const p = as(await processorKey());
    const job = await leaseOf(p, id);
    const res = await p(`/processing/jobs/${id}/failure`, post(failure(job, false, 'ffmpeg exited with code 1', 1)));
    expect(res.status).toBe(200);
    expect(await processingOf(id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { message: 'ffmpeg exited with code 1', exitCode: 1, stderrTail: 'tail of stderr' },
    });
    expect(await lease(p)).toBeNull();
    const retried = await api(`/sessions/${id}/processing/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(await processingOf(id)).toMatchObject({ status: 'queued', attempts: 0 });
    const again = await api(`/sessions/${id}/processing/retry`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe('not_failed');
    const none = await recordedSession();
    const nothing = await api(`/sessions/${none}/processing/retry`, { method: 'POST' });
    expect(nothing.status).toBe(404);
    expect(await errorCode(nothing)).toBe('no_processing');

    const job2 = await leaseOf(p, id);
    await p(`/processing/jobs/${id}/failure`, post(failure(job2, false, 'ffmpeg exited with code 1', 1)));
    const all = await api('/processing/retry-failed', { method: 'POST' });
    expect(all.status).toBe(200);
    expect(((await all.json()) as { retried: string[] }).retried).toContain(id);
    expect((await jobRow(id))?.status).toBe('queued');
    const actions = await auditActions(id);
    expect(actions.filter((a) => a === 'processing.failed')).toHaveLength(2);
    expect(actions.filter((a) => a === 'processing.retried')).toHaveLength(2);
  });

  it('a lease that runs out on the last attempt fails the job with that cause', async () => {
    const id = await recordedSession();
    await requestMp4(id);
    const p = as(await processorKey());
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect((await leaseOf(p, id, 5)).attempt).toBe(attempt);
      await expireLease(id);
    }
    expect(await processingOf(id)).toMatchObject({ status: 'failed' });
    expect(await lease(p)).toBeNull();
    expect(await jobRow(id)).toMatchObject({ status: 'failed', lease_id: null });
    expect(JSON.parse((await jobRow(id))?.error ?? '{}').message).toContain('the lease of attempt 5 ran out');
  });
});

describe('uploads the server refuses', () => {
  it('garbage, a wrong codec and a wrong length are refused with 422; the job and storage are as they were', async () => {
    const id = await recordedSession();
    await requestMp4(id);
    const p = as(await processorKey());
    const job = await leaseOf(p, id);
    const garbage = new Uint8Array(1000).fill(7);
    const cases: Array<[Uint8Array, string]> = [
      [garbage, 'not_mp4'],
      [mp4('wrongCodec'), 'wrong_tracks'],
      [mp4('short'), 'duration_mismatch'],
    ];
    for (const [bytes, code] of cases) {
      const res = await uploadMp4(p, job, bytes);
      expect(res.status, code).toBe(422);
      expect(await errorCode(res)).toBe(code);
      expect(await env.RECORDINGS.head(mp4Key(id, job.leaseId))).toBeNull();
      expect(await jobRow(id)).toMatchObject({ status: 'processing', lease_id: job.leaseId, attempts: 1 });
    }
    // Parts not as announced.
    expect((await p(`/processing/jobs/${id}/upload`, post({ leaseId: job.leaseId }))).status).toBe(201);
    await p(`/processing/jobs/${id}/parts/2`, {
      method: 'PUT',
      headers: { [LEASE_HEADER]: job.leaseId },
      body: garbage,
    });
    const holes = await p(`/processing/jobs/${id}/complete`, post({ leaseId: job.leaseId, parts: 1 }));
    expect(holes.status).toBe(422);
    expect(await errorCode(holes)).toBe('parts_invalid');
    const tooBig = await p(`/processing/jobs/${id}/parts/1`, {
      method: 'PUT',
      headers: { [LEASE_HEADER]: job.leaseId, 'content-length': String(PART_BYTES + 1) },
      body: new Uint8Array(PART_BYTES + 1),
    });
    expect(tooBig.status).toBe(413);
    const badProgress = await p(`/processing/jobs/${id}/progress`, post({ leaseId: job.leaseId, percent: 101 }));
    expect(badProgress.status).toBe(400);
    // The right file still completes the job.
    const done = await uploadMp4(p, job, mp4('matching'));
    expect(done.status).toBe(200);
  });
});

describe('the processor scope', () => {
  it('a processor key leases jobs and nothing else; other keys may not lease', async () => {
    const id = await recordedSession();
    const p = as(await processorKey());
    expect((await p('/sessions')).status).toBe(403);
    expect((await p(`/sessions/${id}/recording.webm`)).status).toBe(403);
    expect((await p(`/sessions/${id}/processing`, { method: 'POST' })).status).toBe(403);
    const read = await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'r', scopes: ['read'] }) });
    const reader = as(((await read.json()) as { secret: string }).secret);
    const refused = await reader('/processing/lease', post({ encoders: ['h264'] }));
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe('forbidden');
    const badLease = await p('/processing/lease', post({ encoders: ['theora'] }));
    expect(badLease.status).toBe(400);
    const badSeconds = await p('/processing/lease', post({ encoders: ['h264'], leaseSeconds: 1 }));
    expect(badSeconds.status).toBe(400);
  });
});

describe('processing settings', () => {
  it('default on demand; off, every sealed video is queued at sealing; bad values are refused', async () => {
    expect(await (await api('/settings/recording/processing')).json()).toEqual({ onDemand: true, codec: 'h264' });
    for (const body of [{ codec: 'theora' }, { onDemand: 'no' }, { onDemand: false, extra: 1 }]) {
      const res = await api('/settings/recording/processing', { method: 'PUT', body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await (await api('/settings/recording/processing')).json()).toEqual({ onDemand: true, codec: 'h264' });
    const onDemand = await recordedSession();
    expect(await jobRow(onDemand)).toBeNull();
    const off = await api('/settings/recording/processing', {
      method: 'PUT',
      body: JSON.stringify({ onDemand: false }),
    });
    expect(await off.json()).toEqual({ onDemand: false, codec: 'h264' });
    try {
      const automatic = await recordedSession();
      expect(await processingOf(automatic)).toMatchObject({ status: 'queued', origin: 'automatic', codec: 'h264' });
      const ssh = await launch({ protocol: 'ssh' });
      await sealNow(ssh.sessionId);
      expect(await jobRow(ssh.sessionId)).toBeNull();
    } finally {
      await api('/settings/recording/processing', { method: 'PUT', body: JSON.stringify({ onDemand: true }) });
    }
    const audited = await env.DB.prepare(
      `SELECT count(*) AS n FROM audit_log WHERE action = 'settings.changed' AND target_id = 'processing'`,
    ).first<{ n: number }>();
    expect(audited?.n).toBe(2);
  });
});

describe('the local processor key', () => {
  it('is derived from the token secret and has the processor scope only', async () => {
    const key = `wp_${[
      ...new Uint8Array(
        await crypto.subtle.sign(
          'HMAC',
          await crypto.subtle.importKey(
            'raw',
            new TextEncoder().encode(env.WITNESS_TOKEN_SECRET),
            { name: 'HMAC', hash: 'SHA-256' },
            false,
            ['sign'],
          ),
          new TextEncoder().encode('witness-local-processor-v1'),
        ),
      ),
    ]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')}`;
    const local = as(key);
    const unknown = await local(
      `/processing/jobs/${crypto.randomUUID()}/progress`,
      post({ leaseId: crypto.randomUUID(), percent: 1 }),
    );
    expect(unknown.status).toBe(404); // let in: there is no such job
    expect(await errorCode(unknown)).toBe('job_not_found');
    expect((await local('/sessions')).status).toBe(403);
    expect((await as('wp_0000')('/processing/lease', post({ encoders: ['h264'] }))).status).toBe(401);
  });
});
