/** Builds small EBML/WebM byte streams by hand, for splitter tests. */

/** Element ID bytes as written (marker bits included). */
function idBytes(id: number): number[] {
  const bytes: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return bytes;
}

/** Size as an EBML vint of `length` bytes (default: the shortest that fits). */
export function vint(value: number, length?: number): number[] {
  let n = length ?? 1;
  if (length === undefined) while (value >= 2 ** (7 * n) - 1) n++;
  const bytes: number[] = [];
  let v = value;
  for (let i = 0; i < n; i++) {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  bytes[0] = (bytes[0] as number) | (0x80 >> (n - 1));
  return bytes;
}

/** The reserved "unknown size" value, 8 bytes (as ffmpeg writes it for a live Segment). */
export const UNKNOWN_SIZE = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

export function element(id: number, body: number[] | Uint8Array, sizeBytes?: number): number[] {
  return [...idBytes(id), ...vint(body.length, sizeBytes), ...body];
}

export function unknownSizeElement(id: number, body: number[]): number[] {
  return [...idBytes(id), ...UNKNOWN_SIZE, ...body];
}

export function uint(value: number, length = 4): number[] {
  const bytes: number[] = [];
  let v = value;
  for (let i = 0; i < length; i++) {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  return bytes;
}

/** A (Simple)Block body: track 1, relative timecode, flags, then `payload` bytes. */
export function blockBody(relative: number, flags: number, payload = [0xaa, 0xbb, 0xcc]): number[] {
  const rel = relative & 0xffff;
  return [0x81, rel >> 8, rel & 0xff, flags, ...payload];
}

export const Ids = {
  ebml: 0x1a45dfa3,
  docType: 0x4282,
  segment: 0x18538067,
  seekHead: 0x114d9b74,
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackType: 0x83,
  defaultDuration: 0x23e383,
  cluster: 0x1f43b675,
  timecode: 0xe7,
  simpleBlock: 0xa3,
  blockGroup: 0xa0,
  block: 0xa1,
  referenceBlock: 0xfb,
  blockDuration: 0x9b,
  void: 0xec,
  cues: 0x1c53bb6b,
  tags: 0x1254c367,
} as const;

export function ebmlHeader(): number[] {
  return element(Ids.ebml, element(Ids.docType, [...Buffer.from('webm')]));
}
