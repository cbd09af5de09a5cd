/**
 * Writes a session as asciicast v2 pieces (docs/ssh-proxy.md): seq 0 is the header line, every later piece
 * holds the event lines of about one second (or 512 KiB), on the session clock (0 = the header).
 */
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { isUtf8 } from 'node:buffer';
import { type CastCode, type CastHeader, castMs } from '../../../protocol/asciicast.ts';
import type { MediaPiece } from '../../launcher/src/webm-splitter.ts';
import { completeLength, escapeUtf8, MAX_ESCAPED_BYTES_PER_BYTE } from './json-escape.ts';

/** A piece is cut this long after its first event... */
export const PIECE_EVERY_MS = 1_000;
/** ...or once it holds this many bytes (with MAX_LINE_BYTES, pieces stay well under the server's 1 MiB). */
export const PIECE_AT_BYTES = 512 * 1024;
/** An event line takes no more data once its data holds this many bytes (JSON-encoded): longer output becomes
 * several events. */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Data is added to a line in parts of at most this many bytes (or UTF-16 units, for text). */
const PART = 16 * 1024;
/** Longest line: a full line's data, one more part at its most escaped, the time and the brackets. */
const MAX_LINE_BYTES = MAX_EVENT_BYTES + PART * MAX_ESCAPED_BYTES_PER_BYTE + 64;
/**
 * Output arriving within this long of the first byte of an `o` run joins that run's event (as asciinema's
 * recorder does), stamped with the first byte's time. Any other event (input, resize, marker) ends the run.
 */
export const COALESCE_MS = 10;

export interface CastRecorderOptions {
  /** Receives every piece, in order; it must keep it (spool) before returning. It may keep `bytes`. */
  onPiece: (piece: MediaPiece) => void;
  everyMs?: number;
  atBytes?: number;
  /** Monotonic ms (performance.now by default). */
  now?: () => number;
}

/** A byte stream decoded as UTF-8 without breaking characters split across reads. */
export interface CastStream {
  /**
   * Records the bytes. Returns them decoded — or, when they are long, at least their last `tailChars`
   * characters decoded (all the prompt detector looks at; decoding the rest would be wasted work).
   */
  write(bytes: Buffer, tailChars?: number): string;
}

/** An event kept back while a typed line is open (agents/ssh-proxy/src/typed-lines.ts), with its own time. */
export interface HeldEvent {
  ms: number;
  code: CastCode;
  data: string;
}

/** What is done to the held events before they are written: the same events or fewer, in order, times kept. */
export type HeldRewrite = (events: HeldEvent[]) => HeldEvent[];

/** An event line whose data is being written: its time, code, and where its data starts in the piece. */
interface OpenLine {
  ms: number;
  code: CastCode;
  dataAt: number;
}

export class CastRecorder {
  readonly #options: CastRecorderOptions;
  readonly #now: () => number;
  readonly #atBytes: number;
  #origin: number | null = null;
  /** Wall-clock ms of the header (the session clock's 0). */
  originEpochMs = 0;
  /**
   * The piece being built: its event lines encoded straight into one buffer (output bytes are escaped into
   * it as they come, never becoming JS strings), and how many bytes of it are used.
   */
  #piece: Buffer | null = null;
  #pieceView: DataView | null = null;
  #bytes = 0;
  /**
   * The line being written (its data's closing `"]` still to come): an `o` run that later output may join,
   * or any event while its data goes in.
   */
  #open: OpenLine | null = null;
  /** Seconds as written in the piece's first and last lines: its headers are computed from them as the server does. */
  #firstSeconds = 0;
  #lastSeconds = 0;
  #lastMs = 0;
  #previousMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #nextSeq = 0;
  #closed = false;
  readonly #decoders = new Set<{ decoder: StringDecoder; code: CastCode }>();
  /** Events kept back (with their times) while held, or null; `#heldRun` is whether the last may take more output. */
  #held: HeldEvent[] | null = null;
  #heldRun = false;
  #heldBytes = 0;
  /** Bytes in pieces, for the summary. */
  bytes = 0;

  constructor(options: CastRecorderOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#atBytes = options.atBytes ?? PIECE_AT_BYTES;
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

  /**
   * A decoder for one byte stream (a channel's output, the client's input). Bytes that are whole, valid
   * UTF-8 — nearly all output — are escaped into the piece as bytes; only the rest (a character split across
   * reads, invalid bytes) goes through the StringDecoder, which then sees exactly what it would have seen
   * had it decoded every chunk: it holds bytes back only after a chunk ending inside a character, and none
   * after a chunk ending with an ASCII byte.
   */
  stream(code: CastCode): CastStream {
    const entry = { decoder: new StringDecoder('utf8'), code };
    this.#decoders.add(entry);
    /** The decoder holds no bytes. */
    let clear = true;
    return {
      write: (bytes, tailChars = 0) => {
        if (bytes.length === 0) return '';
        if (clear) {
          const whole = completeLength(bytes);
          const body = whole === bytes.length ? bytes : bytes.subarray(0, whole);
          if (isUtf8(body)) {
            if (body.length > 0) this.#record(code, body);
            if (whole < bytes.length) {
              entry.decoder.write(bytes.subarray(whole));
              clear = false;
            }
            return decodedTail(body, tailChars);
          }
        }
        const text = entry.decoder.write(bytes);
        clear = (bytes[bytes.length - 1] as number) < 0x80;
        if (text) this.#record(code, text);
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
    if (data !== '') this.#record(code, data, atMs);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  /**
   * Keeps every event from now on back, each with the time it came at, until `release`: what is typed on a line
   * is written only once the line can be read whole for secrets. Nothing held is reordered or re-timed.
   */
  hold(): void {
    if (this.#closed || this.#origin === null || this.#held !== null) return;
    this.#held = [];
    this.#heldRun = false;
    this.#heldBytes = 0;
  }

  get holding(): boolean {
    return this.#held !== null;
  }

  /** The events held so far (the rewrite at `release` sees the same array). */
  get held(): readonly HeldEvent[] {
    return this.#held ?? [];
  }

  /** Bytes (UTF-16 units) of data held. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Writes the held events, after `rewrite`, at their own times, and stops holding. */
  release(rewrite: HeldRewrite = (events) => events): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const event of rewrite(held)) if (event.data !== '') this.#record(event.code, event.data, event.ms);
  }

  /** `data`: text, or whole characters of valid UTF-8. */
  #record(code: CastCode, data: string | Buffer, atMs?: number): void {
    if (this.#closed || this.#origin === null) return;
    const ms = atMs === undefined ? this.elapsedMs() : Math.max(atMs, this.#lastMs);
    const run = code === 'o' && atMs === undefined;
    const held = this.#held;
    if (held !== null) {
      const text = typeof data === 'string' ? data : data.toString('utf8');
      const last = held[held.length - 1];
      const at = Math.max(ms, last?.ms ?? 0);
      // Output coalesces as it would have unheld: into the run it joins, stamped with the run's first byte.
      if (
        run &&
        this.#heldRun &&
        last !== undefined &&
        at - last.ms <= COALESCE_MS &&
        last.data.length < MAX_EVENT_BYTES
      )
        last.data += text;
      else held.push({ ms: at, code, data: text });
      this.#heldRun = run;
      this.#heldBytes += text.length;
      return;
    }
    const open = this.#open;
    const joins = run && open !== null && ms - open.ms <= COALESCE_MS && this.#bytes - open.dataAt < MAX_EVENT_BYTES;
    if (!joins) {
      this.#closeLine();
      this.#openLine(ms, code);
    }
    this.#append(data);
    if (!run) this.#closeLine();
  }

  /** Adds data to the open line, part by part; a full line is closed and the rest goes on in lines of the same time. */
  #append(data: string | Buffer): void {
    let at = 0;
    while (at < data.length) {
      const end = partEnd(data, at);
      let open = this.#open as OpenLine;
      if (this.#bytes - open.dataAt >= MAX_EVENT_BYTES) {
        this.#closeLine();
        this.#openLine(open.ms, open.code);
        open = this.#open as OpenLine;
      }
      this.#ensureRoom((end - at) * MAX_ESCAPED_BYTES_PER_BYTE + 3);
      const piece = this.#piece as Buffer;
      if (typeof data === 'string') {
        const part = at === 0 && end === data.length ? data : data.slice(at, end);
        this.#bytes += piece.write(JSON.stringify(part).slice(1, -1), this.#bytes);
      } else {
        this.#bytes = escapeUtf8(data, at, end, piece, this.#pieceView as DataView, this.#bytes);
      }
      at = end;
    }
  }

  /** Starts an event line (and the piece, if this is its first event). */
  #openLine(ms: number, code: CastCode): void {
    if (this.#timer === null) {
      this.#firstSeconds = ms / 1000;
      this.#timer = setTimeout(() => this.cut(), this.#options.everyMs ?? PIECE_EVERY_MS);
      this.#timer.unref();
    }
    const seconds = ms / 1000;
    // What JSON.stringify([seconds, code, data]) writes before the data.
    const head = `[${JSON.stringify(seconds)},"${code}","`;
    this.#ensureRoom(head.length);
    this.#bytes += (this.#piece as Buffer).write(head, this.#bytes, 'latin1');
    this.#open = { ms, code, dataAt: this.#bytes };
    this.#lastMs = ms;
    this.#lastSeconds = seconds;
  }

  /** Ends the open line; cuts the piece once it is big enough. */
  #closeLine(): void {
    if (this.#open === null) return;
    this.#open = null;
    this.#bytes += (this.#piece as Buffer).write('"]\n', this.#bytes, 'latin1');
    if (this.#bytes >= this.#atBytes) this.cut();
  }

  /** Makes room for `bytes` more bytes in the piece (a new piece's buffer holds a full piece and its last line). */
  #ensureRoom(bytes: number): void {
    const piece = this.#piece;
    if (piece !== null && piece.length - this.#bytes >= bytes) return;
    const size = this.#atBytes + MAX_LINE_BYTES;
    const grown = Buffer.allocUnsafe(Math.max(size, this.#bytes + bytes));
    piece?.copy(grown, 0, 0, this.#bytes);
    this.#piece = grown;
    this.#pieceView = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** Cuts what is held into a piece. */
  cut(): void {
    this.#closeLine();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const piece = this.#piece;
    if (this.#bytes === 0 || piece === null) return;
    let bytes: Buffer;
    if (this.#bytes < piece.length / 8) {
      // A small piece (a second of typing) is copied out: the big buffer serves the next piece, and what the
      // spool keeps in memory until the upload is the piece, not the buffer.
      bytes = Buffer.from(piece.subarray(0, this.#bytes));
    } else {
      // The piece's receiver may keep its bytes (until the server has them): the buffer goes with them.
      bytes = piece.subarray(0, this.#bytes);
      this.#piece = this.#pieceView = null;
    }
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
    // Whoever held them has released them with its rewrite by now (the channel closes first); what is left goes as is.
    this.release();
    this.cut();
    this.#closed = true;
  }

  #emit(piece: MediaPiece): void {
    this.bytes += piece.bytes.byteLength;
    this.#options.onPiece(piece);
  }
}

/** Where the part of `data` starting at `at` ends: at most PART long, not inside a character. */
function partEnd(data: string | Buffer, at: number): number {
  let end = Math.min(data.length, at + PART);
  if (end === data.length) return end;
  if (typeof data === 'string') {
    const last = data.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
  } else {
    while (end > at + 1 && ((data[end] as number) & 0xc0) === 0x80) end--;
  }
  return end;
}

/** Whole, valid UTF-8 decoded — only its end when it is long: at least its last `chars` characters. */
function decodedTail(bytes: Buffer, chars: number): string {
  if (chars === 0) return '';
  // A character is at most 3 bytes per UTF-16 unit; the cut is moved past continuation bytes.
  let start = Math.max(0, bytes.length - 3 * chars - 3);
  while (start > 0 && start < bytes.length && ((bytes[start] as number) & 0xc0) === 0x80) start++;
  return bytes.toString('utf8', start);
}
