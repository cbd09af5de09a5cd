/**
 * The evidence side of a derived MP4: the source it must be made from, as the session's signed manifest names
 * it, and the signed processing record that ties the MP4's SHA-256 to the source's (docs/evidence.md).
 */
import { canonicalJson, importSigningKey, manifestKey, SignedManifest } from '../../protocol/evidence.ts';
import {
  type ProcessingRecord,
  processingRecordKey,
  SignedProcessingRecord,
  signProcessingRecord,
  type VideoCodec,
} from '../../protocol/processing.ts';
import { ApiError } from '../errors.ts';

export interface SourceRecording {
  key: string;
  size: number;
  sha256: string;
  mediaDurationMs: number;
}

/** The sealed recording as the signed manifest states it, or null when there is no signed statement of it. */
export async function signedSource(bucket: R2Bucket, sessionId: string): Promise<SourceRecording | null> {
  const object = await bucket.get(manifestKey(sessionId));
  if (!object) return null;
  const parsed = SignedManifest.safeParse(await object.json().catch(() => null));
  return parsed.success ? parsed.data.manifest.recording : null;
}

/** Signs and stores the processing record of a checked MP4. */
export async function storeProcessingRecord(
  env: Env,
  /** The session's storage location's bucket: the record stays with the MP4 and its source. */
  bucket: R2Bucket,
  made: {
    sessionId: string;
    source: SourceRecording;
    output: { key: string; size: number; sha256: string; codec: VideoCodec; mediaDurationMs: number };
    processor: { id: string; name: string };
    attempt: number;
  },
): Promise<SignedProcessingRecord> {
  if (!env.WITNESS_SIGNING_KEY) {
    throw new ApiError(503, 'signing_key_missing', 'WITNESS_SIGNING_KEY is not set: the MP4 cannot be signed.');
  }
  const key = await importSigningKey(env.WITNESS_SIGNING_KEY);
  const record: ProcessingRecord = {
    version: 1,
    kind: 'witness-derived-recording',
    sessionId: made.sessionId,
    source: made.source,
    output: { ...made.output, container: 'mp4' },
    processor: made.processor,
    attempt: made.attempt,
    completedAt: new Date().toISOString(),
    keyId: key.keyId,
  };
  const signed = await signProcessingRecord(record, key);
  await bucket.put(processingRecordKey(made.sessionId), canonicalJson(signed), {
    httpMetadata: { contentType: 'application/json' },
  });
  return signed;
}

/** The stored record, or null. */
export async function processingRecord(bucket: R2Bucket, sessionId: string): Promise<SignedProcessingRecord | null> {
  const object = await bucket.get(processingRecordKey(sessionId));
  if (!object) return null;
  const parsed = SignedProcessingRecord.safeParse(await object.json().catch(() => null));
  return parsed.success ? parsed.data : null;
}
