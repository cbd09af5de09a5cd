/**
 * Reads what the live viewer socket sends (protocol/viewer.ts) without zod: the protocol module's schemas
 * would add ~20 KB gzip to the live page for a handful of fields. Same rules: a frame that does not match the
 * contract is refused (null, or an Error for a media frame), never half-used.
 */
import type { MediaFrameHeader, ViewerServerMessage } from '../../../protocol/viewer.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function isViewer(v: unknown): boolean {
  return isObject(v) && isString(v.id) && isString(v.name) && isString(v.since);
}

function isViewerList(v: unknown): boolean {
  return Array.isArray(v) && v.every(isViewer);
}

/** A text frame as a server message, or null when it is not one this console understands. */
export function parseViewerMessage(text: string): ViewerServerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  switch (value.type) {
    case 'hello':
      return isInt(value.protocol) && isString(value.sessionId) && isViewerList(value.viewers)
        ? (value as ViewerServerMessage)
        : null;
    case 'viewers':
      return isViewerList(value.viewers) ? (value as ViewerServerMessage) : null;
    case 'ended':
      return isString(value.reason) ? (value as ViewerServerMessage) : null;
    case 'gap':
      return isInt(value.fromSeq) && isInt(value.toSeq) && value.toSeq >= value.fromSeq
        ? (value as ViewerServerMessage)
        : null;
    case 'error':
      return isString(value.code) && isString(value.message) ? (value as ViewerServerMessage) : null;
    default:
      return null;
  }
}

/** Unpacks `[u32 BE header length][header JSON][WebM bytes]`; throws on a malformed frame. */
export function decodeMediaFrame(frame: Uint8Array): { header: MediaFrameHeader; media: Uint8Array } {
  if (frame.byteLength < 4) throw new Error('media frame too short');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (4 + length > frame.byteLength) throw new Error('media frame header overruns the frame');
  const header: unknown = JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + length)));
  if (
    !isObject(header) ||
    !isInt(header.seq) ||
    header.seq < 0 ||
    typeof header.keyframe !== 'boolean' ||
    !isInt(header.startMs) ||
    !isInt(header.endMs) ||
    typeof header.storedAt !== 'number'
  ) {
    throw new Error('media frame header does not match the protocol');
  }
  return { header: header as MediaFrameHeader, media: frame.subarray(4 + length) };
}
