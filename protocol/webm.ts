/**
 * The few EBML/Matroska facts Witness needs to cut, check and describe live WebM pieces.
 * Muxing and remuxing are mediabunny's job; this only reads element headers.
 */

export const EbmlId = {
  ebml: 0x1a45dfa3,
  docType: 0x4282,
  segment: 0x18538067,
  cluster: 0x1f43b675,
  timecode: 0xe7,
  simpleBlock: 0xa3,
  blockGroup: 0xa0,
  block: 0xa1,
  cues: 0x1c53bb6b,
  tags: 0x1254c367,
} as const;

/** An EBML variable-length integer read from a buffer. */
export interface Vint {
  /** Decoded value with the length marker removed; `null` for the reserved "unknown size" value. */
  value: number | null;
  /** Bytes the integer takes. */
  length: number;
}

/** Reads an element ID (marker bits kept, as IDs are written). Returns null when more bytes are needed. */
export function readElementId(bytes: Uint8Array, offset: number): { id: number; length: number } | null {
  if (offset >= bytes.length) return null;
  const first = bytes[offset] as number;
  const length = first >= 0x80 ? 1 : first >= 0x40 ? 2 : first >= 0x20 ? 3 : first >= 0x10 ? 4 : 0;
  if (length === 0) throw new RangeError(`invalid EBML element ID at byte ${offset}`);
  if (offset + length > bytes.length) return null;
  let id = 0;
  for (let i = 0; i < length; i++) id = id * 256 + (bytes[offset + i] as number);
  return { id, length };
}

/** Reads an element size. Returns null when more bytes are needed. */
export function readVint(bytes: Uint8Array, offset: number): Vint | null {
  if (offset >= bytes.length) return null;
  const first = bytes[offset] as number;
  if (first === 0) throw new RangeError(`invalid EBML size at byte ${offset}`);
  const length = Math.clz32(first) - 23;
  if (offset + length > bytes.length) return null;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = bytes[offset + i] as number;
    if (b !== 0xff) allOnes = false;
    value = value * 256 + b;
  }
  return { value: allOnes ? null : value, length };
}

/** Element header: ID, size (null = unknown) and where its body starts. */
export interface ElementHeader {
  id: number;
  size: number | null;
  headerLength: number;
}

/** Reads an element header at `offset`, or null when more bytes are needed. */
export function readElementHeader(bytes: Uint8Array, offset: number): ElementHeader | null {
  const id = readElementId(bytes, offset);
  if (!id) return null;
  const size = readVint(bytes, offset + id.length);
  if (!size) return null;
  return { id: id.id, size: size.value, headerLength: id.length + size.length };
}

/** Reads an unsigned big-endian integer body. */
export function readUint(bytes: Uint8Array, offset: number, length: number): number {
  let value = 0;
  for (let i = 0; i < length; i++) value = value * 256 + (bytes[offset + i] as number);
  return value;
}

/**
 * Checks that the first bytes of a piece are what its sequence number promises: seq 0 is a WebM EBML header
 * (DocType "webm"), any later piece starts with a Cluster. Returns a reason when they are not.
 * Needs the first 64 bytes (or the whole piece if shorter).
 */
export function checkPieceStart(seq: number, head: Uint8Array): string | null {
  try {
    const element = readElementHeader(head, 0);
    if (!element) return 'piece is too short to hold a WebM element';
    if (seq === 0) {
      if (element.id !== EbmlId.ebml) return 'piece 0 must start with the WebM EBML header';
      if (element.size === null) return 'EBML header must have a known size';
      const end = Math.min(head.length, element.headerLength + element.size);
      for (let at = element.headerLength; at < end; ) {
        const child = readElementHeader(head, at);
        if (!child || child.size === null) break;
        const body = at + child.headerLength;
        if (child.id === EbmlId.docType) {
          const docType = new TextDecoder().decode(head.subarray(body, body + child.size)).replace(/\0+$/, '');
          return docType === 'webm' ? null : `DocType is "${docType}", not "webm"`;
        }
        at = body + child.size;
      }
      return 'EBML header has no DocType "webm"';
    }
    if (element.id !== EbmlId.cluster) return `piece ${seq} must start with a WebM Cluster`;
    return null;
  } catch (error) {
    return error instanceof RangeError ? error.message : 'piece is not WebM';
  }
}

/** What a whole Cluster holds, in TimecodeScale units (ms for ffmpeg's WebM). */
export interface ClusterSummary {
  timecode: number;
  /** Absolute time of the last block in the cluster. */
  lastBlockTime: number;
  /** Whether a block in it is a keyframe (a decoder can start there). */
  keyframe: boolean;
  blocks: number;
}

/** Reads a complete Cluster element (as one piece carries it). Throws RangeError on malformed data. */
export function describeCluster(bytes: Uint8Array): ClusterSummary {
  const cluster = readElementHeader(bytes, 0);
  if (!cluster || cluster.id !== EbmlId.cluster) throw new RangeError('not a Cluster');
  const end = cluster.size === null ? bytes.length : Math.min(bytes.length, cluster.headerLength + cluster.size);
  let timecode = 0;
  let lastBlockTime = 0;
  let keyframe = false;
  let blocks = 0;
  for (let at = cluster.headerLength; at < end; ) {
    const child = readElementHeader(bytes, at);
    if (!child || child.size === null) throw new RangeError(`truncated Cluster child at byte ${at}`);
    const body = at + child.headerLength;
    if (body + child.size > end) throw new RangeError(`Cluster child overruns the Cluster at byte ${at}`);
    if (child.id === EbmlId.timecode) timecode = readUint(bytes, body, child.size);
    if (child.id === EbmlId.simpleBlock || child.id === EbmlId.blockGroup) {
      const block =
        child.id === EbmlId.simpleBlock ? { at: body, key: true } : findBlock(bytes, body, body + child.size);
      if (block) {
        const track = readVint(bytes, block.at);
        if (!track) throw new RangeError('truncated block');
        const view = new DataView(bytes.buffer, bytes.byteOffset + block.at + track.length, 3);
        const relative = view.getInt16(0);
        const flags = view.getUint8(2);
        lastBlockTime = Math.max(lastBlockTime, timecode + relative);
        if (child.id === EbmlId.simpleBlock ? (flags & 0x80) !== 0 : block.key) keyframe = true;
        blocks++;
      }
    }
    at = body + child.size;
  }
  return { timecode, lastBlockTime: Math.max(lastBlockTime, timecode), keyframe, blocks };
}

/** Finds the Block inside a BlockGroup; a group without ReferenceBlock is a keyframe. */
function findBlock(bytes: Uint8Array, start: number, end: number): { at: number; key: boolean } | null {
  let blockAt: number | null = null;
  let referenced = false;
  for (let at = start; at < end; ) {
    const child = readElementHeader(bytes, at);
    if (!child || child.size === null) return null;
    if (child.id === EbmlId.block) blockAt = at + child.headerLength;
    if (child.id === 0xfb) referenced = true;
    at += child.headerLength + child.size;
  }
  return blockAt === null ? null : { at: blockAt, key: !referenced };
}
