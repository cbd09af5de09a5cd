/**
 * Checks a media piece while it streams to R2: that it starts like WebM should for its sequence number (or, for
 * a terminal log, that every line is asciicast v2), that it has exactly the announced length, and its SHA-256.
 * A failed check errors the stream, so R2 stores nothing.
 */
import { checkCastEvents, checkCastHeader } from '../../protocol/asciicast.ts';
import { countMarkers, type RedactionCounts } from '../../protocol/redaction.ts';
import type { RecordingFormat } from '../../protocol/session.ts';
import { checkPieceStart } from '../../protocol/webm.ts';
import { hex } from '../../protocol/hex.ts';
import { ApiError } from '../errors.ts';

/** Bytes needed to check a piece's start. */
const HEAD_BYTES = 64;

/**
 * Pieces up to this size are read whole, checked, hashed in one call and handed to R2 as one buffer; larger ones
 * stream through `inspectPiece`. A live piece is ~50 KB, an init segment and a terminal log at most 1 MiB, so
 * nearly every piece takes the whole path: one chunk through R2 instead of dozens, each of which cost JavaScript
 * on both sides of the binding (docs/benchmarks.md, "CPU per piece").
 */
export const WHOLE_PIECE_BYTES = 1024 * 1024;

export interface PieceDigest {
  size: number;
  sha256: string;
  /** A terminal log's span as its own lines give it (its headers are only what the sender meant). */
  span: AnnouncedSpan | null;
  /** A terminal log's `<redacted:kind>` markers (secrets the recorder replaced), by kind; `{}` for WebM. */
  redactions: RedactionCounts;
}

/** A piece's span on the session clock, ms. */
export interface AnnouncedSpan {
  startMs: number;
  endMs: number;
}

export function inspectPiece(
  seq: number,
  expectedLength: number,
  format: RecordingFormat,
  /** Whether the session records keystrokes: a terminal log's `i` events are refused when it does not. */
  keystrokes = true,
): {
  transform: TransformStream<Uint8Array, Uint8Array>;
  digest: Promise<PieceDigest>;
} {
  const hasher = new crypto.DigestStream('SHA-256');
  const hashWriter = hasher.getWriter();
  // A terminal log is small and checked whole (every line), and none of it goes on to storage before it passed;
  // a WebM piece is checked by its first bytes and streams through.
  const whole = format === 'asciicast';
  const head = new Uint8Array(whole ? expectedLength : Math.min(HEAD_BYTES, expectedLength));
  let size = 0;
  let checked = false;
  let span: AnnouncedSpan | null = null;
  let redactions: RedactionCounts = {};
  const check = () => {
    checked = true;
    if (whole) {
      ({ span, redactions } = checkCast(seq, head, keystrokes));
      return;
    }
    const problem = checkPieceStart(seq, head.subarray(0, Math.min(size, head.length)));
    if (problem) throw new ApiError(422, 'not_webm', problem);
  };
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      if (size < head.length) head.set(chunk.subarray(0, head.length - size), size);
      size += chunk.byteLength;
      if (size > expectedLength) {
        throw new ApiError(400, 'length_mismatch', `The body is longer than Content-Length (${expectedLength}).`);
      }
      if (!checked && !whole && size >= head.length) check();
      await hashWriter.write(chunk);
      if (!whole) controller.enqueue(chunk);
    },
    async flush(controller) {
      if (size !== expectedLength) {
        throw new ApiError(400, 'length_mismatch', `Got ${size} bytes, Content-Length said ${expectedLength}.`);
      }
      if (!checked) check();
      if (whole) controller.enqueue(head);
      await hashWriter.close();
    },
  });
  const digest = (async () => {
    const hash = await hasher.digest;
    return { size: expectedLength, sha256: hex(hash), span, redactions };
  })();
  digest.catch(() => undefined); // observed by the caller only when the stream completes
  return { transform, digest };
}

/**
 * Reads a piece of at most WHOLE_PIECE_BYTES whole (exactly `expectedLength` bytes, or a 400), checks it as
 * `inspectPiece` does, and hashes it. Nothing reaches storage before it passed.
 */
export async function readWholePiece(
  body: ReadableStream<Uint8Array>,
  seq: number,
  expectedLength: number,
  format: RecordingFormat,
  keystrokes = true,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; piece: PieceDigest }> {
  const bytes = new Uint8Array(expectedLength);
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > expectedLength) {
      void reader.cancel().catch(() => undefined);
      throw new ApiError(400, 'length_mismatch', `The body is longer than Content-Length (${expectedLength}).`);
    }
    bytes.set(value, size);
    size += value.byteLength;
  }
  if (size !== expectedLength) {
    throw new ApiError(400, 'length_mismatch', `Got ${size} bytes, Content-Length said ${expectedLength}.`);
  }
  let span: AnnouncedSpan | null = null;
  let redactions: RedactionCounts = {};
  if (format === 'asciicast') {
    ({ span, redactions } = checkCast(seq, bytes, keystrokes));
  } else {
    const problem = checkPieceStart(seq, bytes.subarray(0, HEAD_BYTES));
    if (problem) throw new ApiError(422, 'not_webm', problem);
  }
  const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
  return { bytes, piece: { size: expectedLength, sha256, span, redactions } };
}

/** Checks every line of a terminal-log piece; returns the span its events cover and the markers they hold. */
function checkCast(
  seq: number,
  bytes: Uint8Array,
  keystrokes: boolean,
): { span: AnnouncedSpan; redactions: RedactionCounts } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ApiError(422, 'not_asciicast', 'The piece is not valid UTF-8.');
  }
  if (seq === 0) {
    const problem = checkCastHeader(text);
    if (problem) throw new ApiError(422, 'not_asciicast', problem);
    return { span: { startMs: 0, endMs: 0 }, redactions: {} };
  }
  const summary = checkCastEvents(text, { input: keystrokes });
  if (typeof summary === 'string') throw new ApiError(422, 'not_asciicast', summary);
  // Markers are plain ASCII, never escaped in JSON: counted in the piece's text as it stands.
  return { span: { startMs: summary.startMs, endMs: summary.endMs }, redactions: countMarkers(text) };
}
