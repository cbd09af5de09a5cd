/**
 * Live viewer socket: JSON text frames for state, binary frames for media.
 *
 * A media frame is `[u32 big-endian header length][header JSON, UTF-8][WebM bytes]`, so a chunk and its
 * metadata always arrive together. The first media frame a viewer gets is the init segment (seq 0), then
 * the chunks from the latest keyframe on, then each new chunk in sequence order.
 */
import { z } from 'zod';
import { EndReason, SessionStatus } from './session.ts';

export const Viewer = z.strictObject({ id: z.string(), name: z.string(), since: z.string() });
export type Viewer = z.infer<typeof Viewer>;

/** Server → viewer, text frames. */
export const ViewerServerMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    protocol: z.number().int(),
    sessionId: z.string(),
    status: SessionStatus,
    recording: z.boolean(),
    viewers: z.array(Viewer),
  }),
  z.strictObject({ type: z.literal('viewers'), viewers: z.array(Viewer) }),
  z.strictObject({ type: z.literal('ended'), reason: EndReason }),
  /** Pieces `fromSeq`..`toSeq` will never be sent live (lost or skipped); playback continues after them. */
  z.strictObject({ type: z.literal('gap'), fromSeq: z.number().int(), toSeq: z.number().int() }),
  /** The viewer sent something the server does not accept (viewers only send heartbeats). */
  z.strictObject({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ViewerServerMessage = z.infer<typeof ViewerServerMessage>;

/** Header of a binary media frame. */
export const MediaFrameHeader = z.strictObject({
  seq: z.number().int().min(0),
  keyframe: z.boolean(),
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
  /** When the server stored the piece (epoch ms); viewers measure their delay from it. */
  storedAt: z.number(),
});
export type MediaFrameHeader = z.infer<typeof MediaFrameHeader>;

/** Packs a media frame. */
export function encodeMediaFrame(header: MediaFrameHeader, media: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const frame = new Uint8Array(4 + json.byteLength + media.byteLength);
  new DataView(frame.buffer).setUint32(0, json.byteLength);
  frame.set(json, 4);
  frame.set(media, 4 + json.byteLength);
  return frame;
}

/** Unpacks a media frame; throws on a malformed one. */
export function decodeMediaFrame(frame: Uint8Array): { header: MediaFrameHeader; media: Uint8Array } {
  if (frame.byteLength < 4) throw new Error('media frame too short');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (4 + length > frame.byteLength) throw new Error('media frame header overruns the frame');
  const header = MediaFrameHeader.parse(JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + length))));
  return { header, media: frame.subarray(4 + length) };
}
