/**
 * What retention does to a session's objects in R2: every object under `sessions/{id}/` is media (pieces, every
 * upload attempt, the sealed file, an MP4 and whatever else is recorded for it) except the signed records — the
 * manifest and the MP4's processing record — which stay in the session's storage location's bucket for good.
 * Archiving copies each object to that location's archive bucket, checks the copy, then deletes the original;
 * deleting removes the media from both buckets. Both are safe to repeat after an interruption.
 */
import { eq } from 'drizzle-orm';
import { manifestKey, SignedManifest } from '../../protocol/evidence.ts';
import { pieceKey } from '../../protocol/ingest.ts';
import { processingRecordKey } from '../../protocol/processing.ts';
import { pieces } from '../../schema/index.ts';
import { database } from '../../server/db/index.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { sessionBuckets } from '../media-bucket.ts';
import { sessionObject } from '../stubs.ts';
import type { StepOutcome, SweepBudget } from './budget.ts';

/** How objects are copied: a single R2 put takes up to 5 GiB, so a larger object is copied in parts. */
export interface CopyLimits {
  singlePutBytes: number;
  /** Equal parts (R2 wants at least 5 MiB each, but the last). */
  partBytes: number;
}

export const COPY_LIMITS: CopyLimits = { singlePutBytes: 4 * 1024 ** 3, partBytes: 256 * 1024 ** 2 };
/** R2 lists at most 1000 keys a call and deletes at most 1000 in one. */
const LIST_LIMIT = 1000;

export function sessionPrefix(sessionId: string): string {
  return `sessions/${sessionId}/`;
}

/** The signed records under the prefix: never moved, never deleted (they prove what was recorded and derived). */
function signedRecords(sessionId: string): Set<string> {
  return new Set([manifestKey(sessionId), processingRecordKey(sessionId)]);
}

/**
 * Makes sure the signed manifest is in storage before any media goes: once pieces or activity are gone it could
 * never be written again. A manifest that failed to be stored at sealing is written by the session's object now.
 */
export async function ensureManifest(env: Env, session: Pick<SessionRow, 'id' | 'storage'>): Promise<SignedManifest> {
  const sessionId = session.id;
  const stored = await sessionBuckets(env, session).recordings.get(manifestKey(sessionId));
  if (stored) return SignedManifest.parse(await stored.json());
  const outcome = await sessionObject(env, sessionId).publishManifest();
  if (outcome.kind !== 'published') {
    throw new Error(`the manifest is not stored and could not be written (${outcome.kind})`);
  }
  return SignedManifest.parse(JSON.parse(outcome.body));
}

/** The SHA-256 each object must have, where evidence says: the sealed file (manifest) and every piece (index). */
async function expectedDigests(env: Env, row: SessionRow, signed: SignedManifest): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  if (signed.manifest.recording) digests.set(signed.manifest.recording.key, signed.manifest.recording.sha256);
  const indexed = await database(env.DB)
    .select({ seq: pieces.seq, attempt: pieces.attempt, sha256: pieces.sha256 })
    .from(pieces)
    .where(eq(pieces.sessionId, row.id))
    .all();
  for (const piece of indexed) digests.set(pieceKey(row.id, piece.seq, row.format, piece.attempt), piece.sha256);
  return digests;
}

/**
 * Copies one object into `to` and deletes it from `from`. The copy is written with the digest evidence gives
 * (R2 refuses a put whose bytes do not match) or the original's MD5, and its size checked, before the original
 * is deleted. An object no longer in `from` was moved by an earlier run.
 */
async function moveObject(
  from: R2Bucket,
  to: R2Bucket,
  key: string,
  sha256: string | undefined,
  limits: CopyLimits,
): Promise<void> {
  const source = await from.get(key);
  if (!source) return;
  const metadata = { httpMetadata: source.httpMetadata, customMetadata: source.customMetadata };
  if (source.size <= limits.singlePutBytes) {
    const check = sha256 ? { sha256 } : source.checksums.md5 ? { md5: source.checksums.md5 } : {};
    await to.put(key, source.body, { ...metadata, ...check });
  } else {
    await source.body.cancel();
    const upload = await to.createMultipartUpload(key, metadata);
    const parts: R2UploadedPart[] = [];
    for (let offset = 0; offset < source.size; offset += limits.partBytes) {
      const length = Math.min(limits.partBytes, source.size - offset);
      const part = await from.get(key, { range: { offset, length } });
      if (!part) throw new Error(`${key} went away while it was being archived`);
      parts.push(await upload.uploadPart(parts.length + 1, part.body));
    }
    await upload.complete(parts);
  }
  const copied = await to.head(key);
  if (!copied || copied.size !== source.size) {
    throw new Error(`the archived copy of ${key} is ${copied?.size ?? 'missing'}, not ${source.size} bytes`);
  }
  await from.delete(key);
}

/** Moves the session's media to its location's archive bucket, until done or the budget runs out (the next run goes on from there). */
export async function archiveMedia(
  env: Env,
  row: SessionRow,
  budget: SweepBudget,
  limits: CopyLimits = COPY_LIMITS,
): Promise<StepOutcome> {
  const signed = await ensureManifest(env, row);
  const digests = await expectedDigests(env, row, signed);
  const keep = signedRecords(row.id);
  // Each storage location archives into its own archive bucket (docs/retention.md).
  const { recordings, archive } = sessionBuckets(env, row);
  let cursor: string | undefined;
  do {
    const listed = await recordings.list({ prefix: sessionPrefix(row.id), cursor, limit: LIST_LIMIT });
    budget.spend();
    for (const object of listed.objects) {
      if (keep.has(object.key)) continue;
      if (budget.exhausted) return 'incomplete';
      await moveObject(recordings, archive, object.key, digests.get(object.key), limits);
      // get, put, head, delete; an object copied in parts costs two calls more a part.
      budget.spend(object.size > limits.singlePutBytes ? 4 + 2 * Math.ceil(object.size / limits.partBytes) : 4);
    }
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
  return 'done';
}

/** Deletes the session's media from both buckets (the manifest stays), until done or the budget runs out. */
export async function deleteMedia(
  env: Env,
  session: Pick<SessionRow, 'id' | 'storage'>,
  budget: SweepBudget,
): Promise<StepOutcome> {
  const sessionId = session.id;
  await ensureManifest(env, session);
  const keep = signedRecords(sessionId);
  const { recordings, archive } = sessionBuckets(env, session);
  for (const bucket of [recordings, archive]) {
    for (;;) {
      if (budget.exhausted) return 'incomplete';
      // Always the first page: what was listed is deleted before the next list.
      const listed = await bucket.list({ prefix: sessionPrefix(sessionId), limit: LIST_LIMIT });
      const keys = listed.objects.map((o) => o.key).filter((key) => !keep.has(key));
      budget.spend(2);
      if (keys.length === 0) break;
      await bucket.delete(keys);
    }
  }
  return 'done';
}
