/**
 * Writes a session as asciicast v2 pieces (docs/ssh-proxy.md): seq 0 is the header line, every later piece
 * holds the event lines of about one second (or 256 KiB), on the session clock (0 = the header).
 */
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import type { CastCode, CastHeader } from '../../../protocol/asciicast.ts';
import type { MediaPiece } from '../../launcher/src/webm-splitter.ts';

/** A piece is cut this long after its first event... */
export const PIECE_EVERY_MS = 1_000;
/** ...or once it holds this many bytes. */
export const PIECE_AT_BYTES = 256 * 1024;
/** Longest data string of one event line; longer data becomes several events (keeps pieces under 1 MiB). */
const MAX_EVENT_CHARS = 32 * 1024;

export interface CastRecorderOptions {
  /** Receives every piece, in order; it must keep it (spool) before returning. */
  onPiece: (piece: MediaPiece) => void;
  everyMs?: number;
  atBytes?: number;
  /** Monotonic ms (performance.now by default). */
  now?: () => number;
}

/** A byte stream decoded as UTF-8 without breaking characters split across reads. */
export interface CastStream {
  /** Records the bytes; returns them decoded. */
  write(bytes: Buffer): string;
}

export class CastRecorder {
  readonly #options: CastRecorderOptions;
  readonly #now: () => number;
  #origin: number | null = null;
  /** Wall-clock ms of the header (the session clock's 0). */
  originEpochMs = 0;
  #lines: string[] = [];
  #bytes = 0;
  /** Seconds as written in the piece's first and last lines: its headers are computed from them as the server does. */
  #firstSeconds = 0;
  #lastSeconds = 0;
  #lastMs = 0;
  #previousMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #nextSeq = 0;
  #closed = false;
  readonly #decoders = new Set<{ decoder: StringDecoder; code: CastCode }>();
  /** Bytes in pieces, for the summary. */
  bytes = 0;

  constructor(options: CastRecorderOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get started(): boolean {
    return this.#origin !== null;
  }

  /** The highest seq handed out, or null. */
  get lastSeq(): number | null {
    return this.#nextSeq === 0 ? null : this.#nextSeq - 1;
  }

  /** Ms on the session clock (0 before the start), never going back. */
  elapsedMs(): number {
    if (this.#origin === null) return 0;
    this.#previousMs = Math.max(this.#previousMs, Math.round(this.#now() - this.#origin));
    return this.#previousMs;
  }

  /** Writes the header (seq 0) and starts the session clock. */
  start(header: Omit<CastHeader, 'version'>): void {
    if (this.#origin !== null) return;
    this.#origin = this.#now();
    this.originEpochMs = Date.now();
    const line = `${JSON.stringify({ version: 2, ...header, timestamp: Math.floor(this.originEpochMs / 1000) })}\n`;
    this.#emit({ seq: this.#nextSeq++, bytes: Buffer.from(line), keyframe: false, startMs: 0, endMs: 0 });
  }

  /** A decoder for one byte stream (a channel's output, the client's input). */
  stream(code: CastCode): CastStream {
    const entry = { decoder: new StringDecoder('utf8'), code };
    this.#decoders.add(entry);
    return {
      write: (bytes) => {
        const text = entry.decoder.write(bytes);
        if (text) this.event(code, text);
        return text;
      },
    };
  }

  /**
   * Records one event, now or at `atMs` (a time taken with `elapsedMs` for the same input, so that activity
   * and cast agree). Empty data is dropped (a decoder holding half a character).
   */
  event(code: CastCode, data: string, atMs?: number): void {
    if (this.#closed || this.#origin === null || data === '') return;
    const ms = atMs === undefined ? this.elapsedMs() : Math.max(atMs, this.#lastMs);
    let at = 0;
    while (at < data.length) {
      let end = Math.min(data.length, at + MAX_EVENT_CHARS);
      // Do not split a surrogate pair.
      if (end < data.length && /[\uD800-\uDBFF]/.test(data[end - 1] as string)) end--;
      this.#line(ms, code, data.slice(at, end));
      at = end;
    }
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  #line(ms: number, code: CastCode, data: string): void {
    const seconds = ms / 1000;
    const line = `${JSON.stringify([seconds, code, data])}\n`;
    if (this.#lines.length === 0) {
      this.#firstSeconds = seconds;
      this.#timer = setTimeout(() => this.cut(), this.#options.everyMs ?? PIECE_EVERY_MS);
      this.#timer.unref();
    }
    this.#lines.push(line);
    this.#lastMs = ms;
    this.#lastSeconds = seconds;
    this.#bytes += Buffer.byteLength(line);
    if (this.#bytes >= (this.#options.atBytes ?? PIECE_AT_BYTES)) this.cut();
  }

  /** Cuts what is held into a piece. */
  cut(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#lines.length === 0) return;
    const bytes = Buffer.from(this.#lines.join(''));
    this.#lines = [];
    this.#bytes = 0;
    // Not the integer ms themselves: 2.038 × 1000 is 2037.9999…, and the server floors and ceils what it reads.
    this.#emit({
      seq: this.#nextSeq++,
      bytes,
      keyframe: true,
      startMs: Math.floor(this.#firstSeconds * 1000),
      endMs: Math.ceil(this.#lastSeconds * 1000),
    });
  }

  /** Flushes the decoders and cuts the last piece; later events are ignored. */
  close(): void {
    if (this.#closed) return;
    for (const { decoder, code } of this.#decoders) {
      const rest = decoder.end();
      if (rest) this.event(code, rest);
    }
    this.cut();
    this.#closed = true;
  }

  #emit(piece: MediaPiece): void {
    this.bytes += piece.bytes.byteLength;
    this.#options.onPiece(piece);
  }
}
