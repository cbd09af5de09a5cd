/**
 * Cuts ffmpeg's live WebM byte stream into upload pieces: seq 0 is everything before the first Cluster
 * (EBML header, Segment header, SeekHead, Info, Tracks, Tags...), then one piece per Cluster.
 */
import { EbmlId, readElementHeader, readUint } from '../../../protocol/webm.ts';

/** One upload piece with the metadata the ingest headers carry. */
export interface MediaPiece {
  seq: number;
  bytes: Uint8Array;
  /** Holds a frame a decoder can start from (always false for the init segment). */
  keyframe: boolean;
  /** Session-clock ms of the first frame (0 for the init segment). */
  startMs: number;
  /** Session-clock ms just after the last frame (0 for the init segment). */
  endMs: number;
}

export interface WebmSplitterOptions {
  /** Frame duration used when the track has no DefaultDuration and a block has no BlockDuration. */
  frameDurationMs: number;
  /** A cluster larger than this is a broken stream, not something to buffer. */
  maxPieceBytes?: number;
}

/** IDs not used by protocol/webm.ts but needed to read the init segment and clusters. */
const Id = {
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackType: 0x83,
  defaultDuration: 0x23e383,
  seekHead: 0x114d9b74,
  chapters: 0x1043a770,
  attachments: 0x1941a469,
  referenceBlock: 0xfb,
  blockDuration: 0x9b,
} as const;

/** IDs that can only appear at Segment level: one of them ends a Cluster of unknown size. */
const SEGMENT_LEVEL_IDS: ReadonlySet<number> = new Set([
  EbmlId.cluster,
  EbmlId.cues,
  EbmlId.tags,
  EbmlId.ebml,
  EbmlId.segment,
  Id.info,
  Id.tracks,
  Id.seekHead,
  Id.chapters,
  Id.attachments,
]);

const DEFAULT_TIMECODE_SCALE_NS = 1_000_000;
const DEFAULT_MAX_PIECE_BYTES = 64 * 1024 * 1024;

type State =
  /** Reading the EBML header, the Segment header and the Segment's children up to the first Cluster. */
  | 'init'
  /** Between top-level elements after the first Cluster. */
  | 'segment'
  /** Inside a Cluster, reading its children. */
  | 'cluster'
  /** Skipping a non-Cluster element after the first Cluster (Cues, Tags...). */
  | 'skip';

/** A Cluster being read: where it started and what its children said so far. */
interface OpenCluster {
  /** Offset of the first byte after the Cluster's body, or null for unknown size. */
  end: number | null;
  timecode: number | null;
  keyframe: boolean;
  /** Highest block end seen, in timecode units (absolute). */
  lastBlockEnd: number | null;
}

/**
 * Streaming splitter. Feed it stdout chunks with `push` and call `end` when the stream closes; both return
 * the pieces completed by that call, in order. Only the current piece is held in memory.
 */
export class WebmSplitter {
  readonly #frameDurationMs: number;
  readonly #maxPieceBytes: number;
  /** Unconsumed bytes; bytes [0, #pos) belong to the piece being assembled. */
  #buf = new Uint8Array(64 * 1024);
  #len = 0;
  #pos = 0;
  #state: State = 'init';
  #nextSeq = 0;
  #sawSegment = false;
  #timecodeScaleNs = DEFAULT_TIMECODE_SCALE_NS;
  /** Video frame duration in ns from the Tracks' DefaultDuration, when ffmpeg wrote one. */
  #defaultDurationNs: number | null = null;
  #cluster: OpenCluster | null = null;
  #skipRemaining = 0;
  /** Bytes dropped after the first Cluster (Cues, Tags, trailing garbage); kept for diagnostics. */
  droppedBytes = 0;

  constructor(options: WebmSplitterOptions) {
    this.#frameDurationMs = options.frameDurationMs;
    this.#maxPieceBytes = options.maxPieceBytes ?? DEFAULT_MAX_PIECE_BYTES;
  }

  /** Number of pieces emitted so far (the next seq). */
  get piecesEmitted(): number {
    return this.#nextSeq;
  }

  /** Adds bytes; returns the pieces they completed. Throws on a stream that is not live WebM. */
  push(chunk: Uint8Array): MediaPiece[] {
    this.#append(chunk);
    const pieces: MediaPiece[] = [];
    this.#run(pieces);
    if (this.#pos > this.#maxPieceBytes) {
      throw new Error(`a WebM piece grew past ${this.#maxPieceBytes} bytes; the stream is not usable`);
    }
    return pieces;
  }

  /**
   * The stream ended: returns the last Cluster if it is complete (an unknown-size Cluster ends here; a
   * known-size one must be whole). An init segment with no Cluster after it is returned too, so a
   * recording stopped at once still has its header.
   */
  end(): MediaPiece[] {
    const pieces: MediaPiece[] = [];
    if (this.#state === 'init' && this.#nextSeq === 0 && this.#sawSegment && this.#pos > 0) {
      // Only complete top-level elements were consumed, so what is before #pos is a valid header.
      pieces.push(this.#takeInit());
    } else if (this.#state === 'cluster' && this.#cluster) {
      const cluster = this.#cluster;
      if (cluster.end === null) {
        // Unknown size: the Cluster ends with the last whole child read.
        pieces.push(this.#takeCluster());
      } else {
        this.droppedBytes += this.#pos;
        this.#discard(this.#pos);
      }
      this.#cluster = null;
      this.#state = 'segment';
    }
    this.droppedBytes += this.#len - this.#pos;
    this.#discard(this.#len);
    return pieces;
  }

  #run(pieces: MediaPiece[]): void {
    for (;;) {
      const progressed =
        this.#state === 'init'
          ? this.#stepInit(pieces)
          : this.#state === 'segment'
            ? this.#stepSegment()
            : this.#state === 'cluster'
              ? this.#stepCluster(pieces)
              : this.#stepSkip();
      if (!progressed) return;
    }
  }

  /** Reads one top-level element of the header; at the first Cluster, emits the init piece. */
  #stepInit(pieces: MediaPiece[]): boolean {
    const header = readElementHeader(this.#buf.subarray(0, this.#len), this.#pos);
    if (!header) return false;
    if (!this.#sawSegment) {
      if (this.#pos === 0 && header.id !== EbmlId.ebml) throw new Error('stream does not start with an EBML header');
      if (header.id === EbmlId.segment) {
        // The Segment's body is the rest of the stream: step into it, whatever its size says.
        this.#sawSegment = true;
        this.#pos += header.headerLength;
        return true;
      }
      if (header.size === null) throw new Error('EBML header has an unknown size');
      return this.#consumeWhole(header.headerLength + header.size, () => {});
    }
    if (header.id === EbmlId.cluster) {
      pieces.push(this.#takeInit());
      this.#openCluster(header.size, header.headerLength);
      return true;
    }
    if (header.size === null)
      throw new Error(`element 0x${header.id.toString(16)} before the first Cluster has an unknown size`);
    const bodyStart = this.#pos + header.headerLength;
    return this.#consumeWhole(header.headerLength + header.size, () => {
      if (header.id === Id.info) this.#readInfo(bodyStart, bodyStart + (header.size ?? 0));
      if (header.id === Id.tracks) this.#readTracks(bodyStart, bodyStart + (header.size ?? 0));
    });
  }

  /** Between top-level elements after the first Cluster. */
  #stepSegment(): boolean {
    const header = readElementHeader(this.#buf.subarray(0, this.#len), this.#pos);
    if (!header) return false;
    if (header.id === EbmlId.cluster) {
      this.#openCluster(header.size, header.headerLength);
      return true;
    }
    if (header.id === EbmlId.ebml || header.id === EbmlId.segment) {
      throw new Error('a second WebM stream started in the same output; chained streams are not supported');
    }
    if (header.size === null) throw new Error(`top-level element 0x${header.id.toString(16)} has an unknown size`);
    // Cues, Tags, Void...: not part of any piece (the server builds its own Cues when it remuxes).
    this.#skipRemaining = header.headerLength + header.size;
    this.#state = 'skip';
    return true;
  }

  #stepSkip(): boolean {
    const available = this.#len - this.#pos;
    if (available === 0) return false;
    const n = Math.min(available, this.#skipRemaining);
    this.droppedBytes += n;
    this.#discard(this.#pos + n);
    this.#skipRemaining -= n;
    if (this.#skipRemaining === 0) this.#state = 'segment';
    return true;
  }

  /** Starts a Cluster at #pos (which is 0 after the previous piece was taken). */
  #openCluster(size: number | null, headerLength: number): void {
    this.#cluster = {
      end: size === null ? null : this.#pos + headerLength + size,
      timecode: null,
      keyframe: false,
      lastBlockEnd: null,
    };
    this.#pos += headerLength;
    this.#state = 'cluster';
  }

  /** Reads one child of the open Cluster, or closes it. */
  #stepCluster(pieces: MediaPiece[]): boolean {
    const cluster = this.#cluster as OpenCluster;
    if (cluster.end !== null && this.#pos >= cluster.end) {
      if (this.#pos > cluster.end) throw new Error('a Cluster child overran the Cluster');
      pieces.push(this.#takeCluster());
      return true;
    }
    const header = readElementHeader(this.#buf.subarray(0, this.#len), this.#pos);
    if (!header) return false;
    if (cluster.end === null && SEGMENT_LEVEL_IDS.has(header.id)) {
      pieces.push(this.#takeCluster());
      return true;
    }
    if (header.size === null) throw new Error(`Cluster child 0x${header.id.toString(16)} has an unknown size`);
    const bodyStart = this.#pos + header.headerLength;
    const bodyEnd = bodyStart + header.size;
    return this.#consumeWhole(header.headerLength + header.size, () => {
      if (header.id === EbmlId.timecode) cluster.timecode = readUint(this.#buf, bodyStart, header.size ?? 0);
      else if (header.id === EbmlId.simpleBlock) this.#readBlock(cluster, bodyStart, bodyEnd, 'simple', null);
      else if (header.id === EbmlId.blockGroup) this.#readBlockGroup(cluster, bodyStart, bodyEnd);
    });
  }

  /** Consumes an element of `total` bytes at #pos once all of it is buffered. */
  #consumeWhole(total: number, read: () => void): boolean {
    if (this.#pos + total > this.#maxPieceBytes) {
      throw new Error(`a WebM element of ${total} bytes would make a piece larger than ${this.#maxPieceBytes} bytes`);
    }
    if (this.#len - this.#pos < total) {
      this.#reserve(this.#pos + total);
      return false;
    }
    read();
    this.#pos += total;
    return true;
  }

  #readInfo(start: number, end: number): void {
    for (const child of this.#children(start, end)) {
      if (child.id === Id.timecodeScale)
        this.#timecodeScaleNs = readUint(this.#buf, child.body, child.size) || DEFAULT_TIMECODE_SCALE_NS;
    }
  }

  #readTracks(start: number, end: number): void {
    for (const entry of this.#children(start, end)) {
      if (entry.id !== Id.trackEntry) continue;
      let video = false;
      let duration: number | null = null;
      for (const field of this.#children(entry.body, entry.body + entry.size)) {
        if (field.id === Id.trackType) video = readUint(this.#buf, field.body, field.size) === 1;
        if (field.id === Id.defaultDuration) duration = readUint(this.#buf, field.body, field.size);
      }
      if (video && duration) this.#defaultDurationNs = duration;
    }
  }

  #readBlockGroup(cluster: OpenCluster, start: number, end: number): void {
    let block: { body: number; size: number } | null = null;
    let referenced = false;
    let duration: number | null = null;
    for (const child of this.#children(start, end)) {
      if (child.id === EbmlId.block) block = child;
      else if (child.id === Id.referenceBlock) referenced = true;
      else if (child.id === Id.blockDuration) duration = readUint(this.#buf, child.body, child.size);
    }
    if (block) this.#readBlock(cluster, block.body, block.body + block.size, referenced ? 'delta' : 'key', duration);
  }

  /**
   * Reads a (Simple)Block header: track number (vint), signed 16-bit relative timecode, flags.
   * `kind` says how to decide keyframe-ness: from the SimpleBlock flag, or from the BlockGroup.
   */
  #readBlock(
    cluster: OpenCluster,
    start: number,
    end: number,
    kind: 'simple' | 'key' | 'delta',
    durationTicks: number | null,
  ): void {
    const first = this.#buf[start];
    if (first === undefined || first === 0) return;
    const trackLength = Math.clz32(first) - 23;
    const at = start + trackLength;
    if (at + 3 > end) return;
    const relative = (((this.#buf[at] as number) << 24) >> 16) | (this.#buf[at + 1] as number);
    const flags = this.#buf[at + 2] as number;
    if (kind === 'key' || (kind === 'simple' && (flags & 0x80) !== 0)) cluster.keyframe = true;
    const frameTicks = durationTicks ?? this.#frameTicks();
    const blockEnd = (cluster.timecode ?? 0) + relative + frameTicks;
    if (cluster.lastBlockEnd === null || blockEnd > cluster.lastBlockEnd) cluster.lastBlockEnd = blockEnd;
  }

  /** One frame in timecode units. */
  #frameTicks(): number {
    const ns = this.#defaultDurationNs ?? this.#frameDurationMs * 1_000_000;
    return ns / this.#timecodeScaleNs;
  }

  /** Direct children of a known-size master element whose bytes are all buffered. */
  *#children(start: number, end: number): Generator<{ id: number; body: number; size: number }> {
    const view = this.#buf.subarray(0, end);
    for (let at = start; at < end; ) {
      const header = readElementHeader(view, at);
      if (!header || header.size === null) return;
      const body = at + header.headerLength;
      yield { id: header.id, body, size: Math.min(header.size, end - body) };
      at = body + header.size;
    }
  }

  #takeInit(): MediaPiece {
    const bytes = this.#buf.slice(0, this.#pos);
    this.#discard(this.#pos);
    return { seq: this.#nextSeq++, bytes, keyframe: false, startMs: 0, endMs: 0 };
  }

  #takeCluster(): MediaPiece {
    const cluster = this.#cluster as OpenCluster;
    const bytes = this.#buf.slice(0, this.#pos);
    this.#discard(this.#pos);
    this.#cluster = null;
    this.#state = 'segment';
    const toMs = (ticks: number) => Math.max(0, Math.round((ticks * this.#timecodeScaleNs) / 1_000_000));
    const startMs = toMs(cluster.timecode ?? 0);
    const endMs = cluster.lastBlockEnd === null ? startMs : Math.max(startMs, toMs(cluster.lastBlockEnd));
    return { seq: this.#nextSeq++, bytes, keyframe: cluster.keyframe, startMs, endMs };
  }

  #append(chunk: Uint8Array): void {
    this.#reserve(this.#len + chunk.length);
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
  }

  #reserve(capacity: number): void {
    if (capacity <= this.#buf.length) return;
    let size = this.#buf.length;
    while (size < capacity) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }

  /** Drops the first `n` buffered bytes, shifting the rest to the front. */
  #discard(n: number): void {
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
    this.#pos -= Math.min(this.#pos, n);
    if (this.#cluster?.end != null) this.#cluster.end -= n;
  }
}
