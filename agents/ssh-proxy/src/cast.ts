/**
 * Writes a session as asciicast v2 pieces (docs/ssh-proxy.md): seq 0 is the header line, every later piece
 * holds the event lines of about one second (or 256 KiB), on the session clock (0 = the header).
 */
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { type CastCode, type CastHeader, castMs } from '../../../protocol/asciicast.ts';
import type { MediaPiece } from '../../launcher/src/webm-splitter.ts';

/** A piece is cut this long after its first event... */
export const PIECE_EVERY_MS = 1_000;
/** ...or once it holds this many bytes. */
export const PIECE_AT_BYTES = 256 * 1024;
/** Longest data string of one event line; longer data becomes several events (keeps pieces under 1 MiB). */
const MAX_EVENT_CHARS = 32 * 1024;
/**
 * Output arriving within this long of the first byte of an `o` run joins that run's event (as asciinema's
 * recorder does), stamped with the first byte's time. Any other event (input, resize, marker) ends the run.
 */
export const COALESCE_MS = 10;

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
  /**
   * The piece being built: its event lines encoded straight into one buffer (UTF-8 bytes live outside the JS
   * heap, so the garbage collector does not copy a piece's worth of strings around while it grows), and how
   * many bytes of it are used.
   */
  #piece: Buffer | null = null;
  #bytes = 0;
  /** The open `o` run (not yet a line): its time and data. */
  #run: { ms: number; data: string } | null = null;
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
   * and cast agree). Empty data is dropped (a decoder holding half a character). Output (`o`) joins the open
   * run when it arrives within COALESCE_MS of the run's first byte; anything else ends the run first.
   */
  event(code: CastCode, data: string, atMs?: number): void {
    if (this.#closed || this.#origin === null || data === '') return;
    const ms = atMs === undefined ? this.elapsedMs() : Math.max(atMs, this.#lastMs);
    const run = this.#run;
    if (code === 'o' && atMs === undefined) {
      if (run && ms - run.ms <= COALESCE_MS && run.data.length < MAX_EVENT_CHARS) {
        run.data += data;
        return;
      }
      this.#endRun();
      this.#startPiece(ms);
      this.#lastMs = ms;
      this.#run = { ms, data };
      return;
    }
    this.#endRun();
    this.#lines(ms, code, data);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  /** Writes the open output run as its line(s). */
  #endRun(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = null;
    this.#lines(run.ms, 'o', run.data);
  }

  /** One event as lines of at most MAX_EVENT_CHARS characters of data each. */
  #lines(ms: number, code: CastCode, data: string): void {
    let at = 0;
    while (at < data.length) {
      let end = Math.min(data.length, at + MAX_EVENT_CHARS);
      // Do not split a surrogate pair.
      const last = data.charCodeAt(end - 1);
      if (end < data.length && last >= 0xd800 && last <= 0xdbff) end--;
      this.#line(ms, code, at === 0 && end === data.length ? data : data.slice(at, end));
      at = end;
    }
  }

  /** The first event of a piece (a line, or an output run) sets its start and its cut timer. */
  #startPiece(ms: number): void {
    if (this.#timer !== null) return;
    this.#firstSeconds = ms / 1000;
    this.#timer = setTimeout(() => this.cut(), this.#options.everyMs ?? PIECE_EVERY_MS);
    this.#timer.unref();
  }

  #line(ms: number, code: CastCode, data: string): void {
    const seconds = ms / 1000;
    const line = `${JSON.stringify([seconds, code, data])}\n`;
    this.#startPiece(ms);
    // A UTF-16 unit is at most 3 UTF-8 bytes: make sure the whole line fits.
    const atBytes = this.#options.atBytes ?? PIECE_AT_BYTES;
    const room = (this.#piece?.byteLength ?? 0) - this.#bytes;
    if (room < line.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(2 * atBytes, this.#bytes + line.length * 3));
      this.#piece?.copy(grown, 0, 0, this.#bytes);
      this.#piece = grown;
    }
    this.#bytes += (this.#piece as Buffer).write(line, this.#bytes);
    this.#lastMs = ms;
    this.#lastSeconds = seconds;
    if (this.#bytes >= atBytes) this.cut();
  }

  /** Cuts what is held into a piece. */
  cut(): void {
    this.#endRun();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#bytes === 0 || this.#piece === null) return;
    const bytes = this.#piece.subarray(0, this.#bytes);
    this.#piece = null;
    this.#bytes = 0;
    // Not the integer ms themselves, nor seconds × 1000 (2.002 × 1000 is 2001.9999…): what the server reads.
    this.#emit({
      seq: this.#nextSeq++,
      bytes,
      keyframe: true,
      startMs: Math.floor(castMs(this.#firstSeconds)),
      endMs: Math.ceil(castMs(this.#lastSeconds)),
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
