/**
 * Seals a recording. A WebM recording: remuxes the stored live pieces (init segment + clusters, no Duration, no Cues) into one
 * seekable WebM with mediabunny. Packets are copied, never decoded or re-encoded, so the result holds exactly
 * the frames that were recorded. A terminal log: the asciicast pieces are concatenated as they are (they were
 * cut at line boundaries and every line was checked on the way in), which is already a valid `.cast` file.
 */
import {
  CustomSource,
  EncodedPacketSink,
  EncodedVideoPacketSource,
  Input,
  Output,
  StreamTarget,
  type StreamTargetChunk,
  WEBM,
  WebMOutputFormat,
} from 'mediabunny';
import { PIECE_CONTENT_TYPE, pieceKey, recordingKey } from '../protocol/ingest.ts';
import type { RecordingFormat } from '../protocol/session.ts';
import { RecordingWriter } from './recording-writer.ts';

export interface StoredPieceRef {
  seq: number;
  size: number;
  endMs: number;
}

export interface SealResult {
  bytes: number;
  mediaDurationMs: number;
  packets: number;
}

/** Byte offsets of each piece in the concatenated live stream. */
function layout(pieces: readonly StoredPieceRef[]): { starts: number[]; total: number } {
  const starts: number[] = [];
  let total = 0;
  for (const piece of pieces) {
    starts.push(total);
    total += piece.size;
  }
  return { starts, total };
}

/** A mediabunny source that reads the concatenated pieces straight from R2, a range at a time. */
function piecesSource(bucket: R2Bucket, sessionId: string, pieces: readonly StoredPieceRef[]): CustomSource {
  const { starts, total } = layout(pieces);
  const pieceAt = (offset: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return new CustomSource({
    getSize: () => total,
    read: async (start, end) => {
      const out = new Uint8Array(end - start);
      for (let i = pieceAt(start), at = start; at < end; i++) {
        const piece = pieces[i] as StoredPieceRef;
        const offset = at - (starts[i] as number);
        const length = Math.min(piece.size - offset, end - at);
        const object = await bucket.get(pieceKey(sessionId, piece.seq, 'webm'), { range: { offset, length } });
        if (!object) throw new Error(`piece ${piece.seq} is missing from storage`);
        const bytes = new Uint8Array(await object.arrayBuffer());
        if (bytes.byteLength !== length) throw new Error(`piece ${piece.seq} is shorter than its index says`);
        out.set(bytes, at - start);
        at += length;
      }
      return out;
    },
    prefetchProfile: 'network',
  });
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

/** Cast pieces read ahead of the writer: a long session has tens of thousands of them. */
const CAST_READ_AHEAD = 8;

/** `recording.cast`: the pieces back to back, streamed through R2 multipart parts. */
async function sealCast(bucket: R2Bucket, sessionId: string, pieces: readonly StoredPieceRef[]): Promise<SealResult> {
  if (pieces[0]?.seq !== 0) throw new Error('the asciicast header (piece 0) never arrived');
  const writer = new RecordingWriter(bucket, recordingKey(sessionId, 'asciicast'), {
    httpMetadata: { contentType: PIECE_CONTENT_TYPE.asciicast },
  });
  const read = async (piece: StoredPieceRef): Promise<Uint8Array> => {
    const object = await bucket.get(pieceKey(sessionId, piece.seq, 'asciicast'));
    if (!object) throw new Error(`piece ${piece.seq} is missing from storage`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    if (bytes.byteLength !== piece.size) throw new Error(`piece ${piece.seq} is not the size its index says`);
    return bytes;
  };
  const reads: Array<Promise<Uint8Array>> = [];
  try {
    let at = 0;
    let endMs = 0;
    for (const [i, piece] of pieces.entries()) {
      // Keep CAST_READ_AHEAD reads in flight; write strictly in sequence order.
      for (let next = reads.length; next < Math.min(pieces.length, i + CAST_READ_AHEAD); next++) {
        const read$ = read(pieces[next] as StoredPieceRef);
        read$.catch(() => undefined); // awaited in order below; a failure there aborts the seal
        reads.push(read$);
      }
      const bytes = await (reads[i] as Promise<Uint8Array>);
      delete reads[i]; // let the written piece go
      await writer.write(bytes, at);
      at += bytes.byteLength;
      endMs = Math.max(endMs, piece.endMs);
    }
    return { bytes: await writer.finish(), mediaDurationMs: endMs, packets: pieces.length - 1 };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** `recording.webm`: packets copied into a seekable file with Duration and Cues. */
async function sealWebm(bucket: R2Bucket, sessionId: string, pieces: readonly StoredPieceRef[]): Promise<SealResult> {
  if (pieces[0]?.seq !== 0) throw new Error('the init segment (piece 0) never arrived');
  const input = new Input({ source: piecesSource(bucket, sessionId, pieces), formats: [WEBM] });
  const writer = new RecordingWriter(bucket, recordingKey(sessionId, 'webm'), {
    httpMetadata: { contentType: PIECE_CONTENT_TYPE.webm },
  });
  try {
    const track = await input.getPrimaryVideoTrack();
    if (!track) throw new Error('the recording has no video track');
    const codec = track.codec;
    const decoderConfig = await track.getDecoderConfig();
    if (!codec || !decoderConfig) throw new Error('the recording has an unsupported video codec');

    const output = new Output({
      format: new WebMOutputFormat(),
      target: new StreamTarget(
        new WritableStream<StreamTargetChunk>({ write: (chunk) => writer.write(chunk.data, chunk.position) }),
      ),
    });
    const video = new EncodedVideoPacketSource(codec);
    output.addVideoTrack(video);
    await output.start();

    let packets = 0;
    let endSeconds = 0;
    for await (const packet of new EncodedPacketSink(track).packets()) {
      await video.add(packet, packets === 0 ? { decoderConfig } : undefined);
      endSeconds = Math.max(endSeconds, packet.timestamp + packet.duration);
      packets++;
    }
    if (packets === 0) throw new Error('the recording holds no frames');
    await output.finalize();
    return { bytes: await writer.finish(), mediaDurationMs: Math.round(endSeconds * 1000), packets };
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    input.dispose();
  }
}
