/**
 * Seals a recording: reads every stored piece back, checks it against the hash it was acknowledged with (the
 * chain's), and writes the one file a player and an auditor use. A WebM recording becomes the sealed layout of
 * protocol/sealed-webm.ts (every piece verbatim, plus Duration and Cues), a terminal log the pieces back to
 * back (they were cut at line boundaries and every line was checked on the way in). Nothing is decoded or
 * re-encoded, so the file holds exactly the bytes that were acknowledged, and `witness verify` can check it
 * against the chain without the pieces.
 */
import { hex } from '../protocol/hex.ts';
import { PIECE_CONTENT_TYPE, pieceKey, piecesPrefix, recordingKey } from '../protocol/ingest.ts';
import { SealedWebmLayout } from '../protocol/sealed-webm.ts';
import type { RecordingFormat } from '../protocol/session.ts';
import { RecordingWriter } from './recording-writer.ts';

export interface StoredPieceRef {
  seq: number;
  size: number;
  endMs: number;
  sha256: string;
  attempt: string | null;
}

export interface SealResult {
  bytes: number;
  mediaDurationMs: number;
  packets: number;
}

/**
 * A seal that can never succeed with what is stored (a piece that differs from its hash, no init segment, no
 * frames): the recording fails at once with this cause instead of being retried.
 */
export class SealRefused extends Error {
  override readonly name = 'SealRefused';
}

/** Pieces read ahead of the writer: a long session has tens of thousands of them. */
const READ_AHEAD = 8;

/** Each piece's bytes in seq order, read back from R2 and checked against its size and SHA-256. */
async function* verifiedPieces(
  bucket: R2Bucket,
  sessionId: string,
  format: RecordingFormat,
  pieces: readonly StoredPieceRef[],
): AsyncGenerator<Uint8Array> {
  const read = async (piece: StoredPieceRef): Promise<Uint8Array> => {
    const object = await bucket.get(pieceKey(sessionId, piece.seq, format, piece.attempt));
    if (!object) throw new SealRefused(`piece ${piece.seq} is missing from storage`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    if (bytes.byteLength !== piece.size) {
      throw new SealRefused(
        `piece ${piece.seq} in storage is ${bytes.byteLength} bytes; it was stored as ${piece.size}`,
      );
    }
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
    if (sha256 !== piece.sha256) {
      throw new SealRefused(
        `piece ${piece.seq} in storage does not match the hash it was acknowledged with (sha256 ${sha256}, chain ${piece.sha256})`,
      );
    }
    return bytes;
  };
  const reads: Array<Promise<Uint8Array> | undefined> = [];
  for (let i = 0; i < pieces.length; i++) {
    // Keep READ_AHEAD reads in flight; hand them out strictly in sequence order.
    for (let next = reads.length; next < Math.min(pieces.length, i + READ_AHEAD); next++) {
      const read$ = read(pieces[next] as StoredPieceRef);
      read$.catch(() => undefined); // awaited in order below; a failure there aborts the seal
      reads.push(read$);
    }
    const bytes = await (reads[i] as Promise<Uint8Array>);
    reads[i] = undefined; // let the written piece go
    yield bytes;
  }
}

/**
 * Deletes the objects of upload attempts that never became a piece (their Worker died between storing and
 * committing them): they were never acknowledged, the index does not name them, and nothing can commit once the
 * recording is sealed. Returns how many were deleted.
 */
export async function sweepAttempts(
  bucket: R2Bucket,
  sessionId: string,
  format: RecordingFormat,
  pieces: readonly StoredPieceRef[],
): Promise<number> {
  const indexed = new Set(pieces.map((p) => pieceKey(sessionId, p.seq, format, p.attempt)));
  let swept = 0;
  let cursor: string | undefined;
  do {
    const listed = await bucket.list({ prefix: piecesPrefix(sessionId), cursor });
    const strays = listed.objects.map((o) => o.key).filter((key) => !indexed.has(key));
    if (strays.length > 0) await bucket.delete(strays);
    swept += strays.length;
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
  return swept;
}

/** Writes the session's recording from its pieces (seq 0 first, then the rest in order). */
export function sealRecording(
  bucket: R2Bucket,
  sessionId: string,
  format: RecordingFormat,
  pieces: readonly StoredPieceRef[],
): Promise<SealResult> {
  return format === 'asciicast' ? sealCast(bucket, sessionId, pieces) : sealWebm(bucket, sessionId, pieces);
}

/** `recording.cast`: the pieces back to back, streamed through R2 multipart parts. */
async function sealCast(bucket: R2Bucket, sessionId: string, pieces: readonly StoredPieceRef[]): Promise<SealResult> {
  if (pieces[0]?.seq !== 0) throw new SealRefused('the asciicast header (piece 0) never arrived');
  const writer = new RecordingWriter(bucket, recordingKey(sessionId, 'asciicast'), {
    httpMetadata: { contentType: PIECE_CONTENT_TYPE.asciicast },
  });
  try {
    let at = 0;
    let i = 0;
    for await (const bytes of verifiedPieces(bucket, sessionId, 'asciicast', pieces)) {
      await writer.write(bytes, at);
      at += bytes.byteLength;
      i++;
    }
    const endMs = pieces.reduce((end, piece) => Math.max(end, piece.endMs), 0);
    return { bytes: await writer.finish(), mediaDurationMs: endMs, packets: i - 1 };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** `recording.webm`: the sealed layout, its head written last (Duration and sizes are known only then). */
async function sealWebm(bucket: R2Bucket, sessionId: string, pieces: readonly StoredPieceRef[]): Promise<SealResult> {
  if (pieces[0]?.seq !== 0) throw new SealRefused('the init segment (piece 0) never arrived');
  const writer = new RecordingWriter(bucket, recordingKey(sessionId, 'webm'), {
    httpMetadata: { contentType: PIECE_CONTENT_TYPE.webm },
  });
  try {
    let layout: SealedWebmLayout | null = null;
    let at = 0;
    for await (const bytes of verifiedPieces(bucket, sessionId, 'webm', pieces)) {
      if (!layout) {
        try {
          layout = new SealedWebmLayout(bytes);
        } catch (error) {
          throw new SealRefused(`the init segment (piece 0) is not usable WebM: ${(error as Error).message}`);
        }
        at = layout.headLength;
        await writer.write(new Uint8Array(at), 0); // the head's place, filled in at the end
        continue;
      }
      layout.addCluster(bytes);
      await writer.write(bytes, at);
      at += bytes.byteLength;
    }
    if (!layout || layout.blocks === 0) throw new SealRefused('the recording holds no frames');
    await writer.write(layout.cues(), at);
    await writer.write(layout.head(), 0);
    return { bytes: await writer.finish(), mediaDurationMs: layout.mediaDurationMs, packets: layout.blocks };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
