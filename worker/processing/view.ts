/** What the API shows of a recording's MP4 job (protocol/processing.ts `ProcessingView`). */
import { MAX_PROCESSING_ATTEMPTS, processingStatusOf } from '../../protocol/lifecycle.ts';
import type { ProcessingView } from '../../protocol/processing.ts';
import type { ProcessingJob } from '../../server/processing/jobs.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** The job as the session list, the session and the console see it; null when no MP4 was asked for. */
export function processingView(job: ProcessingJob | undefined, now = Date.now()): ProcessingView | null {
  if (!job) return null;
  const status = processingStatusOf(job, now);
  if (status === 'none') return null;
  return {
    status,
    codec: job.codec,
    origin: job.origin,
    attempts: job.attempts,
    maxAttempts: MAX_PROCESSING_ATTEMPTS,
    percent: status === 'processing' || status === 'ready' ? job.percent : null,
    notBefore: status === 'queued' && job.notBefore > now ? iso(job.notBefore) : null,
    bytes: status === 'ready' ? job.outputBytes : null,
    sha256: status === 'ready' ? job.outputSha256 : null,
    error: status === 'ready' ? null : (job.error ?? null),
    url: status === 'ready' ? `/api/v1/sessions/${job.sessionId}/recording.mp4` : null,
    updatedAt: iso(job.updatedAt),
  };
}
