/**
 * `PUT /api/v1/processing/jobs/{id}/parts/{n}`: one part of a leased job's MP4, streamed into the lease's R2
 * multipart upload. Mounted beside the API rather than in it: its bodies are up to PART_BYTES, past the API's
 * JSON body limit; it authenticates and checks the lease all the same.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LEASE_HEADER, LeaseId, MAX_PARTS, mp4Key, PART_BYTES } from '../../protocol/processing.ts';
import { database } from '../../server/db/index.ts';
import { findJob, holdsLease, recordPart } from '../../server/processing/jobs.ts';
import { type ApiEnv, authenticate, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { readWholeBody } from '../ingest/whole-body.ts';
import { recordingsOf } from '../media-bucket.ts';
import { validate } from '../validate.ts';
import { SessionIdParam } from './params.ts';

const PartParams = SessionIdParam.extend({
  part: z
    .string()
    .regex(/^[1-9]\d{0,4}$/, 'a part number is 1, 2, 3, …')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_PARTS)),
});
const LeaseHeader = z.object({ [LEASE_HEADER]: LeaseId });

export const processingPartRoutes = new Hono<ApiEnv>().put(
  '/:id/parts/:part',
  authenticate,
  requirePermission('processing:run'),
  validate('param', PartParams),
  validate('header', LeaseHeader),
  async (c) => {
    const { id, part } = c.req.valid('param');
    const leaseId = c.req.valid('header')[LEASE_HEADER];
    const db = database(c.env.DB);
    const job = await findJob(db, id);
    if (!job) throw new ApiError(404, 'job_not_found', `No processing job for session ${id}.`);
    if (!(await holdsLease(db, id, leaseId, Date.now())) || job.leaseId !== leaseId) {
      throw new ApiError(409, 'lease_not_held', "This processor does not hold the job's lease.");
    }
    if (!job.uploadId) throw new ApiError(409, 'no_upload', 'Begin the upload first (POST …/upload).');
    const bytes = await readWholeBody(
      c.req.raw,
      PART_BYTES,
      () => new ApiError(413, 'part_too_large', `A part may be at most ${PART_BYTES} bytes.`),
    );
    if (bytes.byteLength === 0) throw new ApiError(400, 'empty_part', 'A part holds at least one byte.');
    const bucket = await recordingsOf(c.env, id);
    const uploaded = await bucket.resumeMultipartUpload(mp4Key(id, leaseId), job.uploadId).uploadPart(part, bytes);
    await recordPart(db, { sessionId: id, leaseId, partNumber: part, etag: uploaded.etag, size: bytes.byteLength });
    return c.json({ part, size: bytes.byteLength });
  },
);
