/**
 * MP4 processing (docs/processing.md). For the console and integrations: ask for a recording's MP4, see its
 * status, retry one or every failed one, download it (`recording.mp4`, HTTP Range). For `witness-processor`
 * (the `processing:run` permission only): lease a job, read its source by Range, report progress or failure,
 * upload the MP4 (parts: processing-parts.ts) and complete it.
 */
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { hex } from '../../protocol/hex.ts';
import { isMediaDeleted, phaseOf, processingRefusal, processingStatusOf } from '../../protocol/lifecycle.ts';
import {
  CompleteRequest,
  DURATION_TOLERANCE_MS,
  FailureReport,
  LEASE_HEADER,
  type LeasedJob,
  LeaseId,
  LeaseOnly,
  LeaseRequest,
  mp4Key,
  PART_BYTES,
  ProgressReport,
} from '../../protocol/processing.ts';
import { database } from '../../server/db/index.ts';
import {
  beginUpload,
  completeJob,
  enqueueJob,
  failExhaustedLeases,
  findJob,
  forgetUpload,
  holdsLease,
  leaseJob,
  partsOf,
  type ProcessingJob,
  reportFailure,
  reportProgress,
  retryFailed,
} from '../../server/processing/jobs.ts';
import { processingSettings } from '../../server/processing/settings.ts';
import { audit, auditRead } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { checkMp4 } from '../processing/check-mp4.ts';
import { processingRecord, signedSource, storeProcessingRecord } from '../processing/record.ts';
import { processingView } from '../processing/view.ts';
import { recordingsOf, sessionBuckets } from '../media-bucket.ts';
import { serveObject } from '../serve-object.ts';
import { validate } from '../validate.ts';
import { requireSession, SessionIdParam } from './params.ts';

const DownloadQuery = z.strictObject({
  download: z
    .enum(['0', '1'])
    .optional()
    .transform((v) => v === '1'),
});
const LeaseHeader = z.object({ [LEASE_HEADER]: LeaseId });

const LEASE_NOT_HELD = () =>
  new ApiError(
    409,
    'lease_not_held',
    "This processor does not hold the job's lease (it ran out, the job was finished, or another processor holds it).",
  );

/** The job a processor route names, or 404. */
async function requireJob(env: Env, sessionId: string): Promise<ProcessingJob> {
  const job = await findJob(database(env.DB), sessionId);
  if (!job) throw new ApiError(404, 'job_not_found', `No processing job for session ${sessionId}.`);
  return job;
}

/** The principal, as a processing record and the job's `leasedBy` name it. */
function processorOf(c: Context<ApiEnv>) {
  const principal = c.get('principal');
  return { id: principal.id, name: principal.name };
}

// Guards sit on each route, not `.use()`: this app shares the /sessions prefix with others.
export const sessionProcessingRoutes = new Hono<ApiEnv>()
  .post('/:id/processing', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const { id } = c.req.valid('param');
    const row = await requireSession(c.env, id);
    const refusal = processingRefusal({
      phase: phaseOf(row),
      format: row.format,
      recordingStatus: row.recordingStatus,
    });
    if (refusal) throw new ApiError(refusal.status, refusal.code, refusal.message);
    const db = database(c.env.DB);
    const { codec } = await processingSettings(db);
    const principal = c.get('principal');
    const created = await enqueueJob(db, {
      sessionId: id,
      codec,
      origin: 'requested',
      requestedBy: principal.id,
      now: Date.now(),
    });
    const job = created ?? (await findJob(db, id));
    await audit(c, {
      action: 'processing.requested',
      target: { type: 'session', id },
      details: { codec: job?.codec ?? codec, alreadyRequested: created === null },
    });
    return c.json({ processing: processingView(job) }, created ? 202 : 200);
  })
  .get('/:id/processing', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const { id } = c.req.valid('param');
    const row = await requireSession(c.env, id);
    const job = await findJob(database(c.env.DB), id);
    const view = processingView(job);
    const record = view?.status === 'ready' ? await processingRecord(sessionBuckets(c.env, row).recordings, id) : null;
    return c.json({ processing: view, record });
  })
  .post('/:id/processing/retry', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const { id } = c.req.valid('param');
    await requireSession(c.env, id);
    const db = database(c.env.DB);
    const job = await findJob(db, id);
    if (!job) throw new ApiError(404, 'no_processing', 'No MP4 was asked for; request processing first.');
    const [retried] = await retryFailed(db, Date.now(), id);
    if (!retried) {
      const status = processingStatusOf(job, Date.now());
      throw new ApiError(409, 'not_failed', `The MP4 is ${status}; only a failed one is retried.`);
    }
    await audit(c, {
      action: 'processing.retried',
      target: { type: 'session', id },
      details: { previousError: job.error ?? null },
    });
    return c.json({ processing: processingView(retried) });
  })
  .on(
    ['GET', 'HEAD'],
    '/:id/recording.mp4',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', DownloadQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const { download } = c.req.valid('query');
      const row = await requireSession(c.env, id);
      if (isMediaDeleted(phaseOf(row))) {
        throw new ApiError(410, 'media_deleted', "The session's media, its MP4 with it, has been deleted.");
      }
      const job = await findJob(database(c.env.DB), id);
      const status = processingStatusOf(job, Date.now());
      if (!job?.outputKey || status !== 'ready') {
        throw new ApiError(409, 'mp4_not_ready', `The MP4 is ${status === 'none' ? 'not requested' : status}.`);
      }
      return serveObject(c, {
        key: job.outputKey,
        place: row,
        contentType: 'video/mp4',
        filename: `witness-${id}.mp4`,
        download,
        audit: (read) =>
          auditRead(c, {
            action: download ? 'recording.downloaded' : 'recording.viewed',
            sessionId: id,
            kind: download ? 'mp4-download' : 'mp4',
            bytes: read.bytes,
            range: read.range,
            details: { user: row.user, target: row.target, format: 'mp4', sha256: job.outputSha256 },
          }),
      });
    },
  );

export const processingRoutes = new Hono<ApiEnv>()
  .post('/retry-failed', requirePermission('recording:administer'), async (c) => {
    const retried = await retryFailed(database(c.env.DB), Date.now());
    for (const job of retried) {
      await audit(c, {
        action: 'processing.retried',
        target: { type: 'session', id: job.sessionId },
        details: { all: true, previousError: job.error ?? null },
      });
    }
    return c.json({ retried: retried.map((job) => job.sessionId) });
  })
  .post('/lease', requirePermission('processing:run'), validate('json', LeaseRequest), async (c) => {
    const { encoders, leaseSeconds } = c.req.valid('json');
    const db = database(c.env.DB);
    const now = Date.now();
    for (const lost of await failExhaustedLeases(db, now)) {
      await audit(c, {
        action: 'processing.failed',
        target: { type: 'session', id: lost.sessionId },
        details: { attempts: lost.attempts, cause: lost.error, leaseRanOut: true },
      });
    }
    const job = await leaseJob(db, { encoders, leaseSeconds, processor: c.get('principal').id, now });
    if (!job?.leaseId || job.leaseExpiresAt === null) return c.body(null, 204);
    const source = await signedSource(await recordingsOf(c.env, job.sessionId), job.sessionId);
    if (!source) {
      // Nothing signed to convert from: the same would be found on every attempt.
      await reportFailure(db, {
        sessionId: job.sessionId,
        leaseId: job.leaseId,
        retryable: false,
        cause: {
          message: 'the session has no signed manifest naming its recording',
          exitCode: null,
          signal: null,
          stderrTail: '',
        },
        now,
      });
      return c.body(null, 204);
    }
    await audit(c, {
      action: 'processing.leased',
      target: { type: 'session', id: job.sessionId },
      details: { attempt: job.attempts, codec: job.codec, leaseSeconds, previousError: job.error ?? null },
    });
    const reply: LeasedJob = {
      sessionId: job.sessionId,
      leaseId: job.leaseId,
      leaseExpiresAt: new Date(job.leaseExpiresAt).toISOString(),
      attempt: job.attempts,
      codec: job.codec,
      source: {
        url: `/api/v1/processing/jobs/${job.sessionId}/source.webm`,
        size: source.size,
        sha256: source.sha256,
        mediaDurationMs: source.mediaDurationMs,
      },
      partBytes: PART_BYTES,
    };
    return c.json(reply);
  })
  .on(
    ['GET', 'HEAD'],
    '/jobs/:id/source.webm',
    requirePermission('processing:run'),
    validate('param', SessionIdParam),
    validate('header', LeaseHeader),
    async (c) => {
      const { id } = c.req.valid('param');
      const leaseId = c.req.valid('header')[LEASE_HEADER];
      await requireJob(c.env, id);
      if (!(await holdsLease(database(c.env.DB), id, leaseId, Date.now()))) throw LEASE_NOT_HELD();
      const row = await requireSession(c.env, id);
      const source = await signedSource(sessionBuckets(c.env, row).recordings, id);
      if (!source)
        throw new ApiError(409, 'source_unsigned', 'The session has no signed manifest naming its recording.');
      return serveObject(c, {
        key: source.key,
        place: row,
        contentType: 'video/webm',
        filename: `witness-${id}.webm`,
        download: false,
        audit: (read) =>
          auditRead(c, {
            action: 'processing.source_read',
            sessionId: id,
            kind: 'processing-source',
            bytes: read.bytes,
            range: read.range,
            details: { leaseId },
          }),
      });
    },
  )
  .post(
    '/jobs/:id/progress',
    requirePermission('processing:run'),
    validate('param', SessionIdParam),
    validate('json', ProgressReport),
    async (c) => {
      const { id } = c.req.valid('param');
      const report = c.req.valid('json');
      await requireJob(c.env, id);
      const job = await reportProgress(database(c.env.DB), { sessionId: id, ...report, now: Date.now() });
      if (!job?.leaseExpiresAt) throw LEASE_NOT_HELD();
      return c.json({ leaseExpiresAt: new Date(job.leaseExpiresAt).toISOString() });
    },
  )
  .post(
    '/jobs/:id/failure',
    requirePermission('processing:run'),
    validate('param', SessionIdParam),
    validate('json', FailureReport),
    async (c) => {
      const { id } = c.req.valid('param');
      const report = c.req.valid('json');
      await requireJob(c.env, id);
      const job = await reportFailure(database(c.env.DB), { sessionId: id, ...report, now: Date.now() });
      if (!job) throw LEASE_NOT_HELD();
      await audit(c, {
        action: 'processing.failed',
        target: { type: 'session', id },
        details: { attempts: job.attempts, retryable: report.retryable, status: job.status, cause: report.cause },
      });
      return c.json({ processing: processingView(job) });
    },
  )
  .post(
    '/jobs/:id/upload',
    requirePermission('processing:run'),
    validate('param', SessionIdParam),
    validate('json', LeaseOnly),
    async (c) => {
      const { id } = c.req.valid('param');
      const { leaseId } = c.req.valid('json');
      await requireJob(c.env, id);
      const db = database(c.env.DB);
      if (!(await holdsLease(db, id, leaseId, Date.now()))) throw LEASE_NOT_HELD();
      const bucket = await recordingsOf(c.env, id);
      const upload = await bucket.createMultipartUpload(mp4Key(id, leaseId), {
        httpMetadata: { contentType: 'video/mp4' },
      });
      if (!(await beginUpload(db, id, leaseId, upload.uploadId, Date.now()))) {
        await upload.abort();
        throw LEASE_NOT_HELD();
      }
      return c.json({ partBytes: PART_BYTES }, 201);
    },
  )
  .post(
    '/jobs/:id/complete',
    requirePermission('processing:run'),
    validate('param', SessionIdParam),
    validate('json', CompleteRequest),
    async (c) => {
      const { id } = c.req.valid('param');
      const { leaseId, parts: count } = c.req.valid('json');
      const job = await requireJob(c.env, id);
      const db = database(c.env.DB);
      if (job.leaseId !== leaseId || !(await holdsLease(db, id, leaseId, Date.now()))) throw LEASE_NOT_HELD();
      if (!job.uploadId) throw new ApiError(409, 'no_upload', 'No upload was begun under this lease.');
      const parts = await partsOf(db, id, leaseId);
      const numbered = parts.every((part, i) => part.partNumber === i + 1);
      const sized = parts.every((part, i) => i === parts.length - 1 || part.size === PART_BYTES);
      if (parts.length !== count || !numbered || !sized) {
        throw new ApiError(
          422,
          'parts_invalid',
          `Expected parts 1…${count}, each ${PART_BYTES} bytes but the last; the server holds ${parts.length} (${parts
            .map((p) => `${p.partNumber}:${p.size}`)
            .join(', ')}).`,
        );
      }
      const key = mp4Key(id, leaseId);
      // The MP4 is stored beside its source, in the session's storage location.
      const bucket = await recordingsOf(c.env, id);
      const upload = bucket.resumeMultipartUpload(key, job.uploadId);
      const source = await signedSource(bucket, id);
      if (!source)
        throw new ApiError(409, 'source_unsigned', 'The session has no signed manifest naming its recording.');
      await upload.complete(parts.map((part) => ({ partNumber: part.partNumber, etag: part.etag })));
      let checked: { durationMs: number };
      try {
        checked = await checkMp4(bucket, key, job.codec, source.mediaDurationMs);
      } catch (error) {
        // Garbage is not kept, and the job is as it was: the processor still holds its lease.
        await bucket.delete(key);
        await forgetUpload(db, id, leaseId, Date.now());
        throw error;
      }
      // Hashed as R2 stores it, in one streamed read.
      const stored = await bucket.get(key);
      if (!stored) throw new ApiError(500, 'upload_missing', 'The completed MP4 is not in storage.');
      const digest = new crypto.DigestStream('SHA-256');
      await stored.body.pipeTo(digest);
      const sha256 = hex(await digest.digest);
      const signed = await storeProcessingRecord(c.env, bucket, {
        sessionId: id,
        source,
        output: { key, size: stored.size, sha256, codec: job.codec, mediaDurationMs: checked.durationMs },
        processor: processorOf(c),
        attempt: job.attempts,
      });
      const done = await completeJob(db, {
        sessionId: id,
        leaseId,
        key,
        bytes: stored.size,
        sha256,
        durationMs: checked.durationMs,
        now: Date.now(),
      });
      if (!done) {
        await bucket.delete(key);
        throw LEASE_NOT_HELD();
      }
      await forgetUpload(db, id, leaseId, Date.now());
      if (job.outputKey && job.outputKey !== key) await bucket.delete(job.outputKey);
      await audit(c, {
        action: 'processing.completed',
        target: { type: 'session', id },
        details: {
          attempt: job.attempts,
          bytes: stored.size,
          sha256,
          sourceSha256: source.sha256,
          durationMs: checked.durationMs,
          toleranceMs: DURATION_TOLERANCE_MS,
        },
      });
      return c.json({ processing: processingView(done), record: signed });
    },
  );
