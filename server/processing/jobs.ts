/**
 * The MP4 job queue in D1 (docs/decisions.md, "MP4 jobs: a D1 table with leases"). Every change is one
 * conditional statement whose WHERE is the transition's `from` in protocol/lifecycle.ts, so two processors never
 * hold one job, a stale processor changes nothing, and the queue needs no lock.
 */
import { and, asc, eq, inArray, lt, lte, or, sql } from 'drizzle-orm';
import {
  afterFailure,
  MAX_PROCESSING_ATTEMPTS,
  PROCESSING_TRANSITIONS,
  type ProcessingState,
  type ProcessingStatus,
  processingBackoffMs,
} from '../../protocol/lifecycle.ts';
import type { FailureCause, VideoCodec } from '../../protocol/processing.ts';
import type { RecordingFormat, RecordingStatus } from '../../protocol/session.ts';
import { processingJobs, processingParts } from '../../schema/index.ts';
import type { Database } from '../db/index.ts';
import { processingSettings } from './settings.ts';

export type ProcessingJob = typeof processingJobs.$inferSelect;
type ProcessingPart = typeof processingParts.$inferSelect;

/** The stored statuses a transition may be taken from (`none` is no row, never stored). */
const from = (name: keyof typeof PROCESSING_TRANSITIONS): ProcessingStatus[] =>
  (PROCESSING_TRANSITIONS[name].from as readonly ProcessingState[]).filter((s): s is ProcessingStatus => s !== 'none');

/** The cause stored when a lease ran out: nobody reported what happened to the processor. */
const leaseLostCause = sql`json_object('message', 'the lease of attempt ' || ${processingJobs.attempts} || ' ran out (the processor stopped, or lost the server)', 'exitCode', NULL, 'signal', NULL, 'stderrTail', '')`;

export async function findJob(db: Database, sessionId: string): Promise<ProcessingJob | undefined> {
  return db.select().from(processingJobs).where(eq(processingJobs.sessionId, sessionId)).get();
}

/** The jobs of these sessions (ids in batches within D1's bound-parameter limit). */
export async function jobsFor(db: Database, sessionIds: readonly string[]): Promise<Map<string, ProcessingJob>> {
  const jobs = new Map<string, ProcessingJob>();
  for (let i = 0; i < sessionIds.length; i += 90) {
    const rows = await db
      .select()
      .from(processingJobs)
      .where(inArray(processingJobs.sessionId, sessionIds.slice(i, i + 90)))
      .all();
    for (const row of rows) jobs.set(row.sessionId, row);
  }
  return jobs;
}

/** `request`: queues a job unless the session has one. Returns the new job, or null when one existed. */
export async function enqueueJob(
  db: Database,
  job: { sessionId: string; codec: VideoCodec; origin: ProcessingJob['origin']; requestedBy: string; now: number },
): Promise<ProcessingJob | null> {
  const [row] = await db
    .insert(processingJobs)
    .values({
      sessionId: job.sessionId,
      status: PROCESSING_TRANSITIONS.request.to,
      codec: job.codec,
      origin: job.origin,
      requestedBy: job.requestedBy,
      createdAt: job.now,
      updatedAt: job.now,
      notBefore: job.now,
    })
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

/**
 * Called by the session object once a recording is sealed: with on-demand processing off, a sealed video is
 * queued at once. A terminal log, an empty or a failed recording has nothing to convert.
 */
export async function enqueueAutomatic(
  db: Database,
  sessionId: string,
  format: RecordingFormat,
  recordingStatus: RecordingStatus,
): Promise<ProcessingJob | null> {
  if (format !== 'webm' || recordingStatus !== 'ready') return null;
  const settings = await processingSettings(db);
  if (settings.onDemand) return null;
  return enqueueJob(db, {
    sessionId,
    codec: settings.codec,
    origin: 'automatic',
    requestedBy: 'system',
    now: Date.now(),
  });
}

/**
 * `fail` for the jobs whose lease ran out on their last attempt; returns them. Run before each lease, so that
 * the queue never hands out a job that has had its attempts.
 */
export async function failExhaustedLeases(db: Database, now: number): Promise<ProcessingJob[]> {
  return db
    .update(processingJobs)
    .set({
      status: PROCESSING_TRANSITIONS.fail.to,
      error: leaseLostCause,
      leaseId: null,
      leaseExpiresAt: null,
      uploadId: null,
      updatedAt: now,
    })
    .where(
      and(
        inArray(processingJobs.status, from('leaseLost')),
        lte(processingJobs.leaseExpiresAt, now),
        sql`${processingJobs.attempts} >= ${MAX_PROCESSING_ATTEMPTS}`,
      ),
    )
    .returning();
}

/**
 * `lease` (and `leaseLost` first, for a job whose lease ran out): the oldest due job in one of `encoders`,
 * taken by one conditional UPDATE … RETURNING. Two processors asking at once get two jobs, or one gets none.
 */
export async function leaseJob(
  db: Database,
  lease: { encoders: readonly VideoCodec[]; leaseSeconds: number; processor: string; now: number },
): Promise<ProcessingJob | null> {
  const { now } = lease;
  const due = or(
    and(inArray(processingJobs.status, from('lease')), lte(processingJobs.notBefore, now)),
    and(
      inArray(processingJobs.status, from('leaseLost')),
      lte(processingJobs.leaseExpiresAt, now),
      lt(processingJobs.attempts, MAX_PROCESSING_ATTEMPTS),
    ),
  );
  const next = db
    .select({ id: processingJobs.sessionId })
    .from(processingJobs)
    .where(and(inArray(processingJobs.codec, [...lease.encoders]), due))
    .orderBy(asc(processingJobs.notBefore), asc(processingJobs.createdAt))
    .limit(1);
  const [row] = await db
    .update(processingJobs)
    .set({
      status: PROCESSING_TRANSITIONS.lease.to,
      leaseId: crypto.randomUUID(),
      leasedBy: lease.processor,
      leaseExpiresAt: now + lease.leaseSeconds * 1000,
      attempts: sql`${processingJobs.attempts} + 1`,
      percent: 0,
      uploadId: null,
      // A job taken over from a lost lease keeps why its last attempt ended.
      error: sql`CASE WHEN ${processingJobs.status} = 'processing' THEN ${leaseLostCause} ELSE ${processingJobs.error} END`,
      updatedAt: now,
    })
    .where(and(inArray(processingJobs.sessionId, next), due))
    .returning();
  return row ?? null;
}

/** The lease's job while `leaseId` holds it (and its lease has not run out), else undefined. */
function held(sessionId: string, leaseId: string, now: number) {
  return and(
    eq(processingJobs.sessionId, sessionId),
    eq(processingJobs.leaseId, leaseId),
    inArray(processingJobs.status, from('progress')),
    sql`${processingJobs.leaseExpiresAt} > ${now}`,
  );
}

/** Whether `leaseId` holds the job now. */
export async function holdsLease(db: Database, sessionId: string, leaseId: string, now: number): Promise<boolean> {
  const row = await db
    .select({ id: processingJobs.sessionId })
    .from(processingJobs)
    .where(held(sessionId, leaseId, now))
    .get();
  return row !== undefined;
}

/** `progress`: renews the lease; null when the lease is not (or no longer) held. */
export async function reportProgress(
  db: Database,
  report: { sessionId: string; leaseId: string; percent: number; leaseSeconds: number; now: number },
): Promise<ProcessingJob | null> {
  const [row] = await db
    .update(processingJobs)
    .set({
      percent: Math.floor(report.percent),
      leaseExpiresAt: report.now + report.leaseSeconds * 1000,
      updatedAt: report.now,
    })
    .where(held(report.sessionId, report.leaseId, report.now))
    .returning();
  return row ?? null;
}

/** `retryLater` or `fail`, as the failure and the attempts made say; null when the lease is not held. */
export async function reportFailure(
  db: Database,
  report: { sessionId: string; leaseId: string; retryable: boolean; cause: FailureCause; now: number },
): Promise<ProcessingJob | null> {
  const job = await findJob(db, report.sessionId);
  if (!job) return null;
  const next = afterFailure(job.attempts, report.retryable);
  const [row] = await db
    .update(processingJobs)
    .set({
      status: PROCESSING_TRANSITIONS[next].to,
      error: report.cause,
      notBefore: next === 'retryLater' ? report.now + processingBackoffMs(job.attempts) : job.notBefore,
      leaseId: null,
      leaseExpiresAt: null,
      uploadId: null,
      percent: null,
      updatedAt: report.now,
    })
    .where(and(held(report.sessionId, report.leaseId, report.now), eq(processingJobs.attempts, job.attempts)))
    .returning();
  return row ?? null;
}

/** Records the R2 multipart upload the lease writes its MP4 into; false when the lease is not held. */
export async function beginUpload(
  db: Database,
  sessionId: string,
  leaseId: string,
  uploadId: string,
  now: number,
): Promise<boolean> {
  // A new upload starts with no parts, whatever an earlier (refused) upload of the lease left.
  const [, rows] = await db.batch([
    db
      .delete(processingParts)
      .where(and(eq(processingParts.sessionId, sessionId), eq(processingParts.leaseId, leaseId))),
    db
      .update(processingJobs)
      .set({ uploadId, updatedAt: now })
      .where(held(sessionId, leaseId, now))
      .returning({ id: processingJobs.sessionId }),
  ]);
  return rows.length > 0;
}

/** Records (or replaces, on a retried part) one uploaded part's ETag. */
export async function recordPart(db: Database, part: ProcessingPart): Promise<void> {
  await db
    .insert(processingParts)
    .values(part)
    .onConflictDoUpdate({
      target: [processingParts.sessionId, processingParts.leaseId, processingParts.partNumber],
      set: { etag: part.etag, size: part.size },
    });
}

export async function partsOf(db: Database, sessionId: string, leaseId: string): Promise<ProcessingPart[]> {
  return db
    .select()
    .from(processingParts)
    .where(and(eq(processingParts.sessionId, sessionId), eq(processingParts.leaseId, leaseId)))
    .orderBy(asc(processingParts.partNumber))
    .all();
}

/** Forgets a lease's upload (after it was completed, or refused): its parts rows go. */
export async function forgetUpload(db: Database, sessionId: string, leaseId: string, now: number): Promise<void> {
  await db.batch([
    db
      .delete(processingParts)
      .where(and(eq(processingParts.sessionId, sessionId), eq(processingParts.leaseId, leaseId))),
    db
      .update(processingJobs)
      .set({ uploadId: null, updatedAt: now })
      .where(held(sessionId, leaseId, now)),
  ]);
}

/** `complete`: the MP4 is stored and checked. Null when the lease is no longer held. */
export async function completeJob(
  db: Database,
  done: {
    sessionId: string;
    leaseId: string;
    key: string;
    bytes: number;
    sha256: string;
    durationMs: number;
    now: number;
  },
): Promise<ProcessingJob | null> {
  const [row] = await db
    .update(processingJobs)
    .set({
      status: PROCESSING_TRANSITIONS.complete.to,
      outputKey: done.key,
      outputBytes: done.bytes,
      outputSha256: done.sha256,
      outputDurationMs: done.durationMs,
      percent: 100,
      error: null,
      leaseExpiresAt: null,
      uploadId: null,
      updatedAt: done.now,
    })
    .where(held(done.sessionId, done.leaseId, done.now))
    .returning();
  return row ?? null;
}

/** `retry`: a failed job (or all of them) queued again, due now, with its attempts starting over. */
export async function retryFailed(db: Database, now: number, sessionId?: string): Promise<ProcessingJob[]> {
  await failExhaustedLeases(db, now);
  return db
    .update(processingJobs)
    .set({
      status: PROCESSING_TRANSITIONS.retry.to,
      attempts: 0,
      notBefore: now,
      leaseId: null,
      leaseExpiresAt: null,
      percent: null,
      updatedAt: now,
    })
    .where(
      and(
        inArray(processingJobs.status, from('retry')),
        sessionId === undefined ? undefined : eq(processingJobs.sessionId, sessionId),
      ),
    )
    .returning();
}

/**
 * Retention is deleting the session's media: its job goes (parts with it, by cascade), so a processor still
 * converting holds no lease any more and its upload is refused; no MP4 lands after the media is gone.
 */
export async function dropJob(db: Database, sessionId: string): Promise<void> {
  await db.delete(processingJobs).where(eq(processingJobs.sessionId, sessionId)).run();
}
