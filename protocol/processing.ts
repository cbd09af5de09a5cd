/**
 * MP4 processing (docs/processing.md): the settings, the processor's job protocol (lease, source, progress,
 * failure, multipart upload) and the signed processing record of a derived MP4. Shared by the Worker, the
 * session object (automatic conversion at sealing), the console and `witness-processor`.
 */
import { z } from 'zod';
import { canonicalJson, SIGNATURE_ALGORITHM, type SigningKey, toBase64 } from './evidence.ts';
import { ProcessingStatus } from './lifecycle.ts';

export { ProcessingStatus };

/**
 * What a conversion produces, named by codec: each is an encoder Debian's ffmpeg has (libx264, libx265) in an
 * MP4 with `+faststart`. H.264 plays everywhere (Safari, Chromium, Firefox, every editor); HEVC is smaller but
 * plays in Safari and few others.
 */
export const VideoCodec = z.enum(['h264', 'hevc']);
export type VideoCodec = z.infer<typeof VideoCodec>;

/** The ffmpeg encoder behind each codec, and what mediabunny calls the codec of the track it writes. */
export const CODEC_ENCODER = { h264: 'libx264', hevc: 'libx265' } as const satisfies Record<VideoCodec, string>;
export const CODEC_LABEL = { h264: 'H.264 / MP4', hevc: 'H.265 (HEVC) / MP4' } as const satisfies Record<
  VideoCodec,
  string
>;
export const MEDIABUNNY_CODEC = { h264: 'avc', hevc: 'hevc' } as const satisfies Record<VideoCodec, string>;

/** `GET|PUT /api/v1/settings/processing`. */
export const ProcessingSettings = z.strictObject({
  /** On (the default): recordings stay WebM until someone asks for an MP4. Off: every sealed video is converted. */
  onDemand: z.boolean(),
  codec: VideoCodec,
});
export type ProcessingSettings = z.infer<typeof ProcessingSettings>;
export const DEFAULT_PROCESSING_SETTINGS: ProcessingSettings = { onDemand: true, codec: 'h264' };

/** Bounds of the lease a processor asks for; it renews the lease with each progress report. */
export const MIN_LEASE_SECONDS = 5;
export const MAX_LEASE_SECONDS = 600;
export const DEFAULT_LEASE_SECONDS = 60;
/**
 * Every part of an MP4 upload but the last is exactly this size (R2 wants parts of at least 5 MiB and equal
 * but the last); the processor holds one part in memory at a time, the Worker one per request.
 */
export const PART_BYTES = 8 * 1024 * 1024;
/** At most this many parts: 80 GB, far beyond an eight-hour recording. */
export const MAX_PARTS = 10_000;
/** The request header that names the lease, where the body is media (source reads, part uploads). */
export const LEASE_HEADER = 'x-witness-lease';
/** How much of ffmpeg's stderr a failure keeps. */
export const STDERR_TAIL_BYTES = 2000;
/** The duration of the MP4 must be within this of the source's. */
export const DURATION_TOLERANCE_MS = 1000;

/** R2 key of a derived MP4: one per lease, so a stale upload can never overwrite the one served. */
export function mp4Key(sessionId: string, leaseId: string): string {
  return `sessions/${sessionId}/derived/${leaseId}.mp4`;
}
/** R2 key of the signed processing record of the MP4 served. */
export function processingRecordKey(sessionId: string): string {
  return `sessions/${sessionId}/derived/processing.json`;
}

/**
 * The processor `npm start` runs beside the local server authenticates with `wp_` + HMAC-SHA256(WITNESS_TOKEN_SECRET,
 * this) in lowercase hex: a key with the `processor` scope that nobody has to create (scripts/start.ts).
 */
export const LOCAL_PROCESSOR_KEY_CONTEXT = 'witness-local-processor-v1';
export const LOCAL_PROCESSOR_KEY_PREFIX = 'wp_';

export const LeaseId = z.string().regex(/^[0-9a-f-]{36}$/, 'not a lease id');

/** `POST /api/v1/processing/lease`. */
export const LeaseRequest = z.strictObject({
  /** The codecs this processor's ffmpeg can encode: it is only given jobs for one of them. */
  encoders: z.array(VideoCodec).min(1),
  leaseSeconds: z.number().int().min(MIN_LEASE_SECONDS).max(MAX_LEASE_SECONDS).default(DEFAULT_LEASE_SECONDS),
});
export type LeaseRequest = z.input<typeof LeaseRequest>;

/** A leased job: `200` of the lease request (`204` when there is none). */
export const LeasedJob = z.strictObject({
  sessionId: z.string(),
  leaseId: LeaseId,
  leaseExpiresAt: z.iso.datetime(),
  attempt: z.number().int().min(1),
  codec: VideoCodec,
  source: z.strictObject({
    /** Read by Range with the lease header. */
    url: z.string(),
    size: z.number().int().min(0),
    /** The sealed recording's SHA-256, as its signed manifest states it: the processor checks what it read. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    mediaDurationMs: z.number().int().min(0),
  }),
  partBytes: z.number().int(),
});
export type LeasedJob = z.infer<typeof LeasedJob>;

export const ProgressReport = z.strictObject({
  leaseId: LeaseId,
  percent: z.number().min(0).max(100),
  /** The lease runs this long from now (as at the lease). */
  leaseSeconds: z.number().int().min(MIN_LEASE_SECONDS).max(MAX_LEASE_SECONDS).default(DEFAULT_LEASE_SECONDS),
});
export const ProgressReply = z.strictObject({ leaseExpiresAt: z.iso.datetime() });

/** Why a conversion failed, as stored and shown. */
export const FailureCause = z.strictObject({
  message: z.string().min(1).max(1000),
  /** ffmpeg's exit code, or null when it did not exit by itself (a signal) or did not run. */
  exitCode: z.number().int().nullable().default(null),
  signal: z.string().max(20).nullable().default(null),
  stderrTail: z.string().max(STDERR_TAIL_BYTES).default(''),
});
export type FailureCause = z.infer<typeof FailureCause>;

export const FailureReport = z.strictObject({
  leaseId: LeaseId,
  /** False for a failure that the same input would meet again (ffmpeg refused the source): no more retries. */
  retryable: z.boolean(),
  cause: FailureCause,
});
export type FailureReport = z.input<typeof FailureReport>;

export const LeaseOnly = z.strictObject({ leaseId: LeaseId });
export const CompleteRequest = z.strictObject({
  leaseId: LeaseId,
  /** How many parts were uploaded (1…n): the Worker checks it holds exactly these. */
  parts: z.number().int().min(1).max(MAX_PARTS),
});

/** What the session API shows of a recording's MP4. */
export const ProcessingView = z.strictObject({
  status: ProcessingStatus,
  codec: VideoCodec,
  /** `requested` (someone asked) or `automatic` (on-demand processing is off). */
  origin: z.enum(['requested', 'automatic']),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  percent: z.number().nullable(),
  /** When a queued job may next be leased (after a retryable failure, with backoff). */
  notBefore: z.iso.datetime().nullable(),
  bytes: z.number().int().nullable(),
  sha256: z.string().nullable(),
  error: FailureCause.nullable(),
  url: z.string().nullable(),
  updatedAt: z.iso.datetime(),
});
export type ProcessingView = z.infer<typeof ProcessingView>;

/** The signed statement of a derived MP4 (docs/evidence.md, "Derived MP4"). */
export const ProcessingRecord = z.strictObject({
  version: z.literal(1),
  kind: z.literal('witness-derived-recording'),
  sessionId: z.string(),
  /** The evidence it was made from: the sealed recording, as the session's signed manifest names it. */
  source: z.strictObject({
    key: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    mediaDurationMs: z.number().int(),
  }),
  output: z.strictObject({
    key: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    container: z.literal('mp4'),
    codec: VideoCodec,
    mediaDurationMs: z.number().int(),
  }),
  processor: z.strictObject({ id: z.string(), name: z.string() }),
  attempt: z.number().int(),
  completedAt: z.iso.datetime(),
  keyId: z.string(),
});
export type ProcessingRecord = z.infer<typeof ProcessingRecord>;

export const SignedProcessingRecord = z.strictObject({
  record: ProcessingRecord,
  /** Ed25519 over `canonicalJson(record)` as UTF-8, base64 (as a manifest's signature). */
  signature: z.string(),
  publicKey: z.string(),
});
export type SignedProcessingRecord = z.infer<typeof SignedProcessingRecord>;

/** Signs a processing record whose `keyId` is the key's. */
export async function signProcessingRecord(record: ProcessingRecord, key: SigningKey): Promise<SignedProcessingRecord> {
  if (record.keyId !== key.keyId) throw new Error('the processing record names another key');
  const signature = await crypto.subtle.sign(
    SIGNATURE_ALGORITHM,
    key.privateKey,
    new TextEncoder().encode(canonicalJson(record)),
  );
  return { record, signature: toBase64(signature), publicKey: toBase64(key.publicKey) };
}
