/**
 * The sealed `recording.webm` (docs/evidence.md, "The sealed file"): a seekable WebM that holds every recorded
 * byte as it was acknowledged, so that the file alone can be checked against the hash chain.
 *
 *   EBML header              piece 0's, verbatim
 *   Segment (known size)
 *     SeekHead               → Info, the init segment's other elements, Cues
 *     Info                   piece 0's Info children, Duration added
 *     Tracks, Tags, …        piece 0's, verbatim and in its order
 *     Void                   piece 0 itself, verbatim (players skip a Void)
 *     Cluster …              pieces 1…n, verbatim, in seq order
 *     Cues                   one CuePoint per Cluster that holds a keyframe
 *
 * Everything that is not a recorded byte follows from the recorded bytes alone, by the functions here, so
 * SessionDO (which writes the file) and `witness verify` (which rebuilds and compares it) cannot disagree.
 */
import { describeCluster, EbmlId, readElementHeader, readUint } from './webm.ts';

const Id = {
  seekHead: 0x114d9b74,
  seek: 0x4dbb,
  seekId: 0x53ab,
  seekPosition: 0x53ac,
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  duration: 0x4489,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  defaultDuration: 0x23e383,
  void: 0xec,
  cuePoint: 0xbb,
  cueTime: 0xb3,
  cueTrackPositions: 0xb7,
  cueTrack: 0xf7,
  cueClusterPosition: 0xf1,
} as const;

/** What the sealed file keeps of the init segment (piece 0). */
interface InitSegment {
  ebmlHeader: Uint8Array;
  /** Info's children without Duration. */
  infoChildren: Uint8Array[];
  /** The Segment's other children (Tracks, Tags, …), verbatim, with their IDs. */
  kept: Array<{ id: number; bytes: Uint8Array }>;
  timecodeScaleNs: number;
  trackNumber: number;
  /** A frame's length in TimecodeScale units, from the first track's DefaultDuration (0 when absent). */
  frameUnits: number;
}

/** Reads piece 0 as the launcher sent it. Throws a RangeError when it is not a WebM init segment. */
function readInitSegment(piece0: Uint8Array): InitSegment {
  const ebml = readElementHeader(piece0, 0);
  if (!ebml || ebml.id !== EbmlId.ebml || ebml.size === null) throw new RangeError('piece 0 has no EBML header');
  const segmentAt = ebml.headerLength + ebml.size;
  const segment = readElementHeader(piece0, segmentAt);
  if (!segment || segment.id !== EbmlId.segment) throw new RangeError('piece 0 has no Segment');
  const init: InitSegment = {
    ebmlHeader: piece0.subarray(0, segmentAt),
    infoChildren: [],
    kept: [],
    timecodeScaleNs: 1_000_000,
    trackNumber: 1,
    frameUnits: 0,
  };
  let info = false;
  let tracks = false;
  let defaultDurationNs = 0;
  for (const child of children(piece0, segmentAt + segment.headerLength, piece0.length)) {
    if (child.id === EbmlId.cluster || child.id === EbmlId.cues) throw new RangeError('piece 0 holds media');
    if (child.id === Id.seekHead || child.id === Id.void) continue; // written anew / dropped
    if (child.id === Id.info) {
      info = true;
      for (const field of children(piece0, child.bodyAt, child.end)) {
        if (field.id === Id.duration) continue;
        if (field.id === Id.timecodeScale)
          init.timecodeScaleNs = readUint(piece0, field.bodyAt, field.end - field.bodyAt);
        init.infoChildren.push(piece0.subarray(field.at, field.end));
      }
      continue;
    }
    if (child.id === Id.tracks && !tracks) {
      tracks = true;
      const entry = children(piece0, child.bodyAt, child.end).find((e) => e.id === Id.trackEntry);
      for (const field of entry ? children(piece0, entry.bodyAt, entry.end) : []) {
        const value = readUint(piece0, field.bodyAt, field.end - field.bodyAt);
        if (field.id === Id.trackNumber) init.trackNumber = value;
        if (field.id === Id.defaultDuration) defaultDurationNs = value;
      }
    }
    init.kept.push({ id: child.id, bytes: piece0.subarray(child.at, child.end) });
  }
  if (!info || !tracks) throw new RangeError('piece 0 lacks Info or Tracks');
  if (init.timecodeScaleNs <= 0) throw new RangeError('piece 0 has a TimecodeScale of 0');
  init.frameUnits = defaultDurationNs / init.timecodeScaleNs;
  return init;
}

interface Child {
  id: number;
  at: number;
  bodyAt: number;
  end: number;
}

function children(bytes: Uint8Array, start: number, end: number): Child[] {
  const out: Child[] = [];
  for (let at = start; at < end; ) {
    const header = readElementHeader(bytes, at);
    if (!header || header.size === null) throw new RangeError(`unreadable element at byte ${at}`);
    const bodyAt = at + header.headerLength;
    const childEnd = bodyAt + header.size;
    if (childEnd > end) throw new RangeError(`element at byte ${at} overruns its parent`);
    out.push({ id: header.id, at, bodyAt, end: childEnd });
    at = childEnd;
  }
  return out;
}

/**
 * Lays out one sealed recording: give it piece 0, then every later piece in seq order (`addCluster`), then ask
 * for the bytes that go before them (`head`) and after them (`cues`).
 */
export class SealedWebmLayout {
  readonly #init: InitSegment;
  readonly #void: Uint8Array;
  readonly #headLength: number;
  /** Segment-relative position of the next cluster. */
  #position = 0;
  #cuePoints: Array<{ time: number; position: number }> = [];
  #endUnits = 0;
  #blocks = 0;

  constructor(piece0: Uint8Array) {
    this.#init = readInitSegment(piece0);
    this.#void = element(Id.void, [piece0]);
    this.#headLength = this.#segmentHead(0).byteLength;
    this.#position = this.#headLength - this.#segmentDataStart();
  }

  /** Bytes before the first cluster (header, Info, Tracks, the init segment in a Void). */
  get headLength(): number {
    return this.#headLength;
  }

  /** Appends a recorded piece (a Cluster). Its bytes are never changed; a Cluster that can't be read gets no cue. */
  addCluster(bytes: Uint8Array): void {
    try {
      const cluster = describeCluster(bytes);
      if (cluster.keyframe) this.#cuePoints.push({ time: cluster.timecode, position: this.#position });
      if (cluster.blocks > 0) {
        this.#endUnits = Math.max(this.#endUnits, cluster.lastBlockTime + this.#init.frameUnits);
        this.#blocks += cluster.blocks;
      }
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
    this.#position += bytes.byteLength;
  }

  /** Frames seen in the clusters added so far. */
  get blocks(): number {
    return this.#blocks;
  }

  /** The recording's length as Info's Duration gives it, in ms. */
  get mediaDurationMs(): number {
    return Math.round((this.#endUnits * this.#init.timecodeScaleNs) / 1_000_000);
  }

  /** The Cues that end the file. */
  cues(): Uint8Array {
    const points = this.#cuePoints.map(({ time, position }) =>
      element(Id.cuePoint, [
        uintElement(Id.cueTime, time),
        element(Id.cueTrackPositions, [
          uintElement(Id.cueTrack, this.#init.trackNumber),
          uintElement(Id.cueClusterPosition, position),
        ]),
      ]),
    );
    return element(EbmlId.cues, points);
  }

  /** Everything before the first cluster, once every cluster has been added. */
  head(): Uint8Array {
    return this.#segmentHead(this.#position + this.cues().byteLength);
  }

  #segmentDataStart(): number {
    return this.#init.ebmlHeader.byteLength + idBytes(EbmlId.segment).byteLength + 8;
  }

  /** EBML header, Segment header with `segmentSize`, SeekHead, Info, kept elements, the Void. */
  #segmentHead(segmentSize: number): Uint8Array {
    const info = element(Id.info, [...this.#init.infoChildren, floatElement(Id.duration, this.#endUnits)]);
    const sought = [info, ...this.#init.kept.map((k) => k.bytes)];
    const ids = [Id.info, ...this.#init.kept.map((k) => k.id), EbmlId.cues];
    // SeekPositions are 8-byte integers, so the SeekHead's length doesn't depend on them: measure, then fill.
    let at = seekHead(
      ids,
      ids.map(() => 0),
    ).byteLength;
    const positions: number[] = [];
    for (const part of sought) {
      positions.push(at);
      at += part.byteLength;
    }
    positions.push(this.#position); // the Cues follow the last cluster
    return concat([
      this.#init.ebmlHeader,
      idBytes(EbmlId.segment),
      fixedSize(segmentSize),
      seekHead(ids, positions),
      ...sought,
      this.#void,
    ]);
  }
}

function seekHead(ids: number[], positions: number[]): Uint8Array {
  return element(
    Id.seekHead,
    ids.map((id, i) =>
      element(Id.seek, [element(Id.seekId, [idBytes(id)]), fixedUint(Id.seekPosition, positions[i] ?? 0)]),
    ),
  );
}

/**
 * Splits a sealed file's head (the bytes before its first cluster, or more) to find the init segment it carries:
 * the Void right before the first Cluster. Returns null when the file is not laid out as `SealedWebmLayout` does.
 */
export function embeddedInitSegment(head: Uint8Array): { piece0: Uint8Array; headLength: number } | null {
  try {
    const ebml = readElementHeader(head, 0);
    if (!ebml || ebml.id !== EbmlId.ebml || ebml.size === null) return null;
    const segmentAt = ebml.headerLength + ebml.size;
    const segment = readElementHeader(head, segmentAt);
    if (!segment || segment.id !== EbmlId.segment || segment.headerLength !== 12) return null;
    let last: { id: number; at: number; headerLength: number; size: number } | null = null;
    for (let at = segmentAt + segment.headerLength; at < head.length; ) {
      const child = readElementHeader(head, at);
      if (!child || child.size === null) return null;
      if (child.id === EbmlId.cluster || child.id === EbmlId.cues) break;
      last = { id: child.id, at, headerLength: child.headerLength, size: child.size };
      at += child.headerLength + child.size;
      if (at > head.length) return null;
    }
    if (!last || last.id !== Id.void) return null;
    const bodyAt = last.at + last.headerLength;
    return { piece0: head.subarray(bodyAt, bodyAt + last.size), headLength: bodyAt + last.size };
  } catch {
    return null;
  }
}

function idBytes(id: number): Uint8Array {
  const length = id >= 0x1000000 ? 4 : id >= 0x10000 ? 3 : id >= 0x100 ? 2 : 1;
  const out = new Uint8Array(length);
  for (let i = length - 1, v = id; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

/** The shortest EBML size for `n` (the all-ones value of each length is reserved for "unknown"). */
function sizeVint(n: number): Uint8Array {
  let length = 1;
  while (n >= 2 ** (7 * length) - 1) length++;
  const out = new Uint8Array(length);
  for (let i = length - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  out[0] = (out[0] as number) | (0x80 >> (length - 1));
  return out;
}

/** An 8-byte EBML size, so a value filled in later does not move anything. */
function fixedSize(n: number): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 7, v = n; i >= 1; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  out[0] = 0x01;
  return out;
}

function element(id: number, body: Uint8Array[]): Uint8Array {
  const length = body.reduce((sum, part) => sum + part.byteLength, 0);
  return concat([idBytes(id), sizeVint(length), ...body]);
}

function uintElement(id: number, value: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = value; v > 0 || bytes.length === 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return element(id, [Uint8Array.from(bytes)]);
}

function fixedUint(id: number, value: number): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 7, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return element(id, [out]);
}

function floatElement(id: number, value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value);
  return element(id, [out]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
