import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { ProcessingStatus } from '../protocol/lifecycle.ts';
import type { FailureCause, VideoCodec } from '../protocol/processing.ts';
import { sessions } from './sessions.ts';

/**
 * One MP4 job per sealed video recording (server/processing/jobs.ts): queued, leased by a processor, ready or
 * failed. Leases are taken with one conditional UPDATE … RETURNING, so two processors never hold one job.
 */
export const processingJobs = sqliteTable(
  'processing_jobs',
  {
    sessionId: text('session_id')
      .primaryKey()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    status: text('status').$type<ProcessingStatus>().notNull(),
    codec: text('codec').$type<VideoCodec>().notNull(),
    /** `requested` (someone asked) or `automatic` (on-demand processing was off when it was sealed). */
    origin: text('origin').$type<'requested' | 'automatic'>().notNull(),
    /** Who asked (principal id), or `system` for an automatic job. */
    requestedBy: text('requested_by').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /** Leases taken so far. */
    attempts: integer('attempts').notNull().default(0),
    /** A queued job is not leased before this (epoch ms): the backoff after a retryable failure. */
    notBefore: integer('not_before').notNull(),
    leaseId: text('lease_id'),
    /** The processor's principal id and name. */
    leasedBy: text('leased_by'),
    leaseExpiresAt: integer('lease_expires_at'),
    percent: integer('percent'),
    /** The R2 multipart upload of the lease's MP4, once it began. */
    uploadId: text('upload_id'),
    /** The MP4 served (ready): its key, size, SHA-256 and duration. */
    outputKey: text('output_key'),
    outputBytes: integer('output_bytes'),
    outputSha256: text('output_sha256'),
    outputDurationMs: integer('output_duration_ms'),
    /** Why the last attempt failed (kept while the job is retried, cleared when it is ready). */
    error: text('error', { mode: 'json' }).$type<FailureCause>(),
  },
  (t) => [index('processing_jobs_queue').on(t.status, t.notBefore)],
);

/** The parts uploaded under a lease's multipart upload, with R2's ETag for each (to complete it). */
export const processingParts = sqliteTable(
  'processing_parts',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => processingJobs.sessionId, { onDelete: 'cascade' }),
    leaseId: text('lease_id').notNull(),
    partNumber: integer('part_number').notNull(),
    etag: text('etag').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.leaseId, t.partNumber] })],
);
