/**
 * Where a session's media is read from. Each session names its storage location (server/storage.ts): sealing
 * writes its media to that location's bucket; the retention sweep moves it to the location's archive bucket
 * object by object (worker/retention/media.ts), each copied before its original goes, so every object is always
 * in one of the two. A read looks where the session's mark says first and in the other bucket second: a move
 * cut short by an interrupted run never hides a piece. The manifest never moves (it stays in the location's
 * recordings bucket: `sessionBuckets(...).recordings`).
 */
import { eq } from 'drizzle-orm';
import type { RetentionMark } from '../protocol/lifecycle.ts';
import { sessions } from '../schema/index.ts';
import { database } from '../server/db/index.ts';
import { type StorageBuckets, storageBuckets } from '../server/storage.ts';

/** What says where a session's media is: its storage location and its retention mark. */
export interface MediaPlace {
  storage: string | null;
  retention: RetentionMark | null;
}

/** The session's storage location's buckets. */
export function sessionBuckets(env: Env, place: Pick<MediaPlace, 'storage'>): StorageBuckets {
  return storageBuckets(env, place.storage);
}

/** The buckets to look in, in order, for a session's media. */
export function mediaBuckets(env: Env, place: MediaPlace): [R2Bucket, R2Bucket] {
  const { recordings, archive } = sessionBuckets(env, place);
  return place.retention === 'archived' ? [archive, recordings] : [recordings, archive];
}

/** The object's metadata and the bucket that holds it, or null when neither does. */
export async function headMedia(
  env: Env,
  place: MediaPlace,
  key: string,
): Promise<{ bucket: R2Bucket; head: R2Object } | null> {
  for (const bucket of mediaBuckets(env, place)) {
    const head = await bucket.head(key);
    if (head) return { bucket, head };
  }
  return null;
}

/** The object (or the range asked for) from whichever bucket holds it, or null. */
export async function getMedia(
  env: Env,
  place: MediaPlace,
  key: string,
  options: R2GetOptions = {},
): Promise<R2ObjectBody | null> {
  for (const bucket of mediaBuckets(env, place)) {
    const object = await bucket.get(key, options);
    if (object) return object;
  }
  return null;
}

/** The recordings bucket of a session's storage location, looked up by id (where no session row is at hand). */
export async function recordingsOf(env: Env, sessionId: string): Promise<R2Bucket> {
  const row = await database(env.DB)
    .select({ storage: sessions.storage })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
    .get();
  return storageBuckets(env, row?.storage).recordings;
}
