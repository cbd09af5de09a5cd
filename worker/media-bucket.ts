/**
 * Where a session's media is read from. Sealing writes it to RECORDINGS; the retention sweep moves it to ARCHIVE
 * object by object (worker/retention/media.ts), each copied before its original goes, so every object is always
 * in one of the two. A read looks where the session's mark says first and in the other bucket second: a move
 * cut short by an interrupted run never hides a piece. The manifest never moves (evidence/manifest reads use
 * RECORDINGS).
 */
import type { RetentionMark } from '../protocol/lifecycle.ts';

/** The buckets to look in, in order, for a session with retention mark `retention`. */
export function mediaBuckets(env: Env, retention: RetentionMark | null): [R2Bucket, R2Bucket] {
  return retention === 'archived' ? [env.ARCHIVE, env.RECORDINGS] : [env.RECORDINGS, env.ARCHIVE];
}

/** The object's metadata and the bucket that holds it, or null when neither does. */
export async function headMedia(
  env: Env,
  retention: RetentionMark | null,
  key: string,
): Promise<{ bucket: R2Bucket; head: R2Object } | null> {
  for (const bucket of mediaBuckets(env, retention)) {
    const head = await bucket.head(key);
    if (head) return { bucket, head };
  }
  return null;
}

/** The object (or the range asked for) from whichever bucket holds it, or null. */
export async function getMedia(
  env: Env,
  retention: RetentionMark | null,
  key: string,
  options: R2GetOptions = {},
): Promise<R2ObjectBody | null> {
  for (const bucket of mediaBuckets(env, retention)) {
    const object = await bucket.get(key, options);
    if (object) return object;
  }
  return null;
}
