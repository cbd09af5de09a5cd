/** The ingest HTTP contract (docs/ingest-protocol.md): paths, headers, limits and replies. */
import { z } from 'zod';

import { RecordingFormat } from './session.ts';

/** Largest media piece accepted (one Cluster, or the init segment). */
export const MAX_PIECE_BYTES = 16 * 1024 * 1024;
/** Largest WebM init segment (piece 0): headers and codec setup, a few KiB in practice; the sealed file holds it twice. */
export const MAX_INIT_SEGMENT_BYTES = 1024 * 1024;

/** The Content-Type of a piece, per recording format. */
export const PIECE_CONTENT_TYPE = {
  webm: 'video/webm',
  asciicast: 'application/x-asciicast',
} as const satisfies Record<RecordingFormat, string>;

/** File extension of pieces and of the sealed recording, per format. */
export const EXTENSION = { webm: 'webm', asciicast: 'cast' } as const satisfies Record<RecordingFormat, string>;
/** Highest sequence number accepted; a session at 1 piece/s would need 30 years to reach it. */
export const MAX_SEQ = 999_999_999;

export const IngestHeader = {
  /** `1` when the piece holds a keyframe a decoder can start from. */
  keyframe: 'x-witness-keyframe',
  /** Session-clock time of the first frame in the piece, in ms. */
  startMs: 'x-witness-start-ms',
  /** Session-clock time just after the last frame in the piece, in ms. */
  endMs: 'x-witness-end-ms',
} as const;

const msHeader = z
  .string()
  .regex(/^\d{1,12}$/, 'must be a whole number of milliseconds')
  .transform(Number);

/** Media piece headers, validated by the Worker. */
export const PieceHeaders = z
  .object({
    [IngestHeader.keyframe]: z.enum(['0', '1']).transform((v) => v === '1'),
    [IngestHeader.startMs]: msHeader,
    [IngestHeader.endMs]: msHeader,
  })
  .refine((h) => h[IngestHeader.endMs] >= h[IngestHeader.startMs], {
    message: `${IngestHeader.endMs} must not be before ${IngestHeader.startMs}`,
  });

/**
 * A piece or batch number in a path: plain decimal digits, no sign, no leading zeros, no exponent or hex (so
 * `0x10`, `1e1`, `+3` and `007` are refused rather than read as some other number).
 */
export const SeqParam = z
  .string()
  .regex(/^(?:0|[1-9]\d{0,8})$/, 'must be a whole decimal number (0, 1, 2, …) without leading zeros')
  .transform(Number)
  .pipe(z.number().int().min(0).max(MAX_SEQ));

/** Reply to a media PUT once the piece is durably stored (or was already). */
export const PieceAck = z.strictObject({
  seq: z.number().int(),
  size: z.number().int(),
  sha256: z.string(),
  duplicate: z.boolean(),
});
export type PieceAck = z.infer<typeof PieceAck>;

/** Error body used everywhere in the API and ingest. */
export const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Launch reply. */
export const LaunchReply = z.object({
  sessionId: z.string(),
  token: z.string(),
  expiresAt: z.string(),
  /** What to send as pieces: `webm` video or an `asciicast` terminal log (servers before formats: webm). */
  format: RecordingFormat.default('webm'),
});
export type LaunchReply = z.infer<typeof LaunchReply>;

/** Where a session's pieces live in R2: every key that `pieceKey` makes for it starts so. */
export function piecesPrefix(sessionId: string): string {
  return `sessions/${sessionId}/pieces/`;
}

/**
 * R2 key of one stored piece; zero-padded so a listing sorts in sequence order. Each upload attempt writes its
 * own object (`attempt`), and the session's Durable Object makes exactly one of them the piece, so an attempt
 * that lost its claim can never overwrite what was acknowledged. Pieces stored before attempts existed have
 * no attempt in their key.
 */
export function pieceKey(sessionId: string, seq: number, format: RecordingFormat, attempt: string | null): string {
  const name = String(seq).padStart(10, '0') + (attempt === null ? '' : `-${attempt}`);
  return `${piecesPrefix(sessionId)}${name}.${EXTENSION[format]}`;
}

/** R2 key of the finished recording: a seekable `recording.webm`, or `recording.cast` for a terminal log. */
export function recordingKey(sessionId: string, format: RecordingFormat): string {
  return `sessions/${sessionId}/recording.${EXTENSION[format]}`;
}
