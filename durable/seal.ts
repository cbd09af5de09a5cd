/**
 * Seals a recording: remuxes the stored live pieces (init segment + clusters, no Duration, no Cues) into one
 * seekable WebM with mediabunny. Packets are copied, never decoded or re-encoded, so the result holds exactly
 * the frames that were recorded.
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
import { pieceKey, recordingKey } from '../protocol/ingest.ts';
import { RecordingWriter } from './recording-writer.ts';

export interface StoredPieceRef {
  seq: number;
  size: number;
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
        const object = await bucket.get(pieceKey(sessionId, piece.seq), { range: { offset, length } });
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

/** Writes `sessions/<id>/recording.webm` from the pieces (seq 0 first, then clusters in order). */
export async function sealRecording(
  bucket: R2Bucket,
  sessionId: string,
  pieces: readonly StoredPieceRef[],
): Promise<SealResult> {
  if (pieces[0]?.seq !== 0) throw new Error('the init segment (piece 0) never arrived');
  const input = new Input({ source: piecesSource(bucket, sessionId, pieces), formats: [WEBM] });
  const writer = new RecordingWriter(bucket, recordingKey(sessionId), {
    httpMetadata: { contentType: 'video/webm' },
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
