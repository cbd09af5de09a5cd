/**
 * Checks a media piece while it streams to R2: that it starts like WebM should for its sequence number, that it
 * has exactly the announced length, and its SHA-256. A failed check errors the stream, so R2 stores nothing.
 */
import { checkPieceStart } from '../../protocol/webm.ts';
import { ApiError } from '../errors.ts';

/** Bytes needed to check a piece's start. */
const HEAD_BYTES = 64;

export interface PieceDigest {
  size: number;
  sha256: string;
}

export function inspectPiece(
  seq: number,
  expectedLength: number,
): {
  transform: TransformStream<Uint8Array, Uint8Array>;
  digest: Promise<PieceDigest>;
} {
  const hasher = new crypto.DigestStream('SHA-256');
  const hashWriter = hasher.getWriter();
  const head = new Uint8Array(Math.min(HEAD_BYTES, expectedLength));
  let size = 0;
  let checked = false;
  const check = () => {
    checked = true;
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
      if (!checked && size >= head.length) check();
      await hashWriter.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      if (size !== expectedLength) {
        throw new ApiError(400, 'length_mismatch', `Got ${size} bytes, Content-Length said ${expectedLength}.`);
      }
      if (!checked) check();
      await hashWriter.close();
    },
  });
  const digest = (async () => {
    const hash = await hasher.digest;
    return { size: expectedLength, sha256: hex(hash) };
  })();
  digest.catch(() => undefined); // observed by the caller only when the stream completes
  return { transform, digest };
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}
