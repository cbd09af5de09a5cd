/**
 * Uploads what the launcher spooled — media pieces (PUT /ingest/v1/sessions/{id}/pieces/{seq}) and activity
 * batches (POST .../events/{batch}) — with the same guarantees: at most two at a time, lowest number
 * first, retrying what the server may still take (backoff, token renewal) and keeping on disk what it will
 * never take. What differs per kind (the request, reading the reply) is an UploadKind.
 */
import http from 'node:http';
import https from 'node:https';
import { ErrorBody, IngestHeader, PieceAck } from '../../../protocol/ingest.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import type { Logger } from './log.ts';
import type { Spool, SpooledPiece } from './spool.ts';
import type { IngestToken } from './token.ts';

/** What happened to one request. */
export type Outcome =
  | {
      kind: 'stored';
      duplicate: boolean /** Stored, but something in the reply deserves an error line. */;
      problem?: string;
    }
  | { kind: 'retry'; reason: string; onlyThisSeq?: boolean }
  | { kind: 'token'; reason: string }
  | { kind: 'refused'; reason: string };

/** One kind of spooled upload. Items are numbered (seq, batch); numbers are unique per kind. */
export interface UploadKind<Item> {
  /** For log lines: "piece", "event batch". */
  noun: string;
  number(item: Item): number;
  /** Sends the item; rejects on network errors (they are retried). */
  send(item: Item, token: string, agent: http.Agent): Promise<Outcome>;
  /** The server has the item: delete it from the spool. */
  forget(number: number): void;
  /** Where refused items stay, for the error line. */
  spoolDir: string;
  /** For debug lines: "48213 bytes". */
  describe(item: Item): string;
}

export interface UploaderOptions {
  server: string;
  session: string;
  token: IngestToken;
  log: Logger;
  /** The server refused the token: ask the control channel for a new one now. */
  onTokenRejected: () => void;
  maxInFlight?: number;
  backoff?: BackoffOptions;
  requestTimeoutMs?: number;
  /** How long to hold uploads after a 401 while waiting for a new token. */
  tokenWaitMs?: number;
}

export interface PieceUploaderOptions extends UploaderOptions {
  spool: Spool;
  /** The pieces' Content-Type: `video/webm` (the default), `application/x-asciicast` for the SSH proxy. */
  contentType?: string;
}

export class SpooledUploader<Item> {
  readonly #options: UploaderOptions;
  readonly #kind: UploadKind<Item>;
  readonly #maxInFlight: number;
  readonly #queued = new Map<number, Item>();
  readonly #inFlight = new Set<number>();
  /** Per-number earliest retry time (409 upload_in_progress). */
  readonly #notBefore = new Map<number, number>();
  /** Items the server will never take, with the reason; they stay in the spool. */
  readonly #refused = new Map<number, string>();
  /** Items the server says it has while we were still sending them. */
  readonly #storedElsewhere = new Set<number>();
  readonly #backoff: Backoff;
  readonly #idleWaiters = new Set<() => void>();
  readonly #agent: http.Agent;
  /** Uploads are held until this time (server trouble, or waiting for a token). */
  #pausedUntil = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Items acknowledged, for the summary. */
  stored = 0;
  /** Requests that had to be retried, for the summary. */
  retries = 0;

  constructor(options: UploaderOptions, kind: UploadKind<Item>) {
    this.#options = options;
    this.#kind = kind;
    this.#maxInFlight = options.maxInFlight ?? 2;
    this.#backoff = new Backoff(options.backoff);
    const secure = options.server.startsWith('https:');
    this.#agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** Queues a spooled item. */
  add(item: Item): void {
    const number = this.#kind.number(item);
    if (this.#stopped || this.#refused.has(number)) return;
    this.#queued.set(number, item);
    this.#pump();
  }

  /** The server already stores these seqs (welcome.storedSeqs): forget them. */
  markStored(seqs: readonly number[]): void {
    for (const seq of seqs) {
      if (this.#queued.delete(seq)) {
        this.#kind.forget(seq);
        this.#options.log.debug(`${this.#kind.noun} ${seq} is already stored`);
      } else if (this.#inFlight.has(seq)) {
        this.#storedElsewhere.add(seq);
      }
    }
    this.#settle();
  }

  /** Seqs not yet acknowledged and still being tried. */
  get pending(): number[] {
    return [...this.#queued.keys(), ...this.#inFlight].sort((a, b) => a - b);
  }

  /** Seqs the server refused for good, with the reason. */
  get refused(): ReadonlyMap<number, string> {
    return this.#refused;
  }

  /** Resolves true when nothing is pending, or false at `deadline` (epoch ms) with pieces still pending. */
  whenIdle(deadline: number): Promise<boolean> {
    if (this.pending.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        if (this.pending.length > 0 && Date.now() < deadline) return;
        clearTimeout(timer);
        this.#idleWaiters.delete(wake);
        resolve(this.pending.length === 0);
      };
      const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
      this.#idleWaiters.add(wake);
    });
  }

  /** Stops starting uploads; requests in flight are abandoned. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#agent.destroy();
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = Date.now();
    if (now < this.#pausedUntil) {
      // An infinite pause (waiting for a token) ends through #pauseFor, not a timer.
      if (Number.isFinite(this.#pausedUntil)) this.#wakeAt(this.#pausedUntil);
      return;
    }
    let earliest = Number.POSITIVE_INFINITY;
    for (const seq of [...this.#queued.keys()].sort((a, b) => a - b)) {
      if (this.#inFlight.size >= this.#maxInFlight) return;
      const notBefore = this.#notBefore.get(seq) ?? 0;
      if (notBefore > now) {
        earliest = Math.min(earliest, notBefore);
        continue;
      }
      const item = this.#queued.get(seq) as Item;
      this.#queued.delete(seq);
      this.#inFlight.add(seq);
      void this.#upload(seq, item);
    }
    if (earliest < Number.POSITIVE_INFINITY) this.#wakeAt(earliest);
  }

  #wakeAt(time: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#pump();
      },
      Math.max(0, time - Date.now()),
    );
  }

  async #upload(seq: number, item: Item): Promise<void> {
    const token = this.#options.token.value;
    let outcome: Outcome;
    try {
      outcome = await this.#kind.send(item, token, this.#agent);
    } catch (error) {
      outcome = { kind: 'retry', reason: (error as Error).message };
    }
    this.#inFlight.delete(seq);
    const { log } = this.#options;
    const noun = this.#kind.noun;
    if (this.#stopped) return;
    if (this.#storedElsewhere.delete(seq) && outcome.kind !== 'stored') {
      this.#kind.forget(seq);
    } else if (outcome.kind === 'stored') {
      this.#kind.forget(seq);
      this.#notBefore.delete(seq);
      this.stored++;
      this.#backoff.reset();
      if (outcome.problem) log.error(`${noun} ${seq}: ${outcome.problem}`);
      log.debug(`${noun} ${seq} stored (${this.#kind.describe(item)}${outcome.duplicate ? ', duplicate' : ''})`);
    } else if (outcome.kind === 'refused') {
      this.#refused.set(seq, outcome.reason);
      log.error(`${noun} ${seq} was refused and stays in ${this.#kind.spoolDir}: ${outcome.reason}`);
    } else {
      this.retries++;
      this.#queued.set(seq, item);
      const delay = this.#backoff.next();
      if (outcome.kind === 'token') {
        log.debug(`${noun} ${seq}: ${outcome.reason}; renewing the token`);
        this.#options.token.rejected(token);
        this.#options.onTokenRejected();
        this.#pauseFor(this.#options.token.waitForReplacement(token, this.#options.tokenWaitMs ?? 15_000), delay);
      } else if (outcome.onlyThisSeq) {
        this.#notBefore.set(seq, Date.now() + delay);
      } else {
        log.warn(`${noun} ${seq} not stored (${outcome.reason}); retrying in ${(delay / 1000).toFixed(1)} s`);
        this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + delay);
      }
    }
    this.#settle();
    this.#pump();
  }

  /** Holds uploads until `until` settles (but at least `minMs` when tokens keep being refused). */
  #pauseFor(until: Promise<void>, minMs: number): void {
    const holdUntil = Date.now() + (this.#backoff.attempts > 2 ? minMs : 0);
    this.#pausedUntil = Number.POSITIVE_INFINITY;
    void until.then(() => {
      this.#pausedUntil = holdUntil;
      this.#pump();
    });
  }

  #settle(): void {
    for (const wake of [...this.#idleWaiters]) wake();
  }
}

/** The request timeout, shared by every kind. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** One HTTP request; resolves with the status and the body as text. */
export function send(
  url: URL,
  init: { method: string; headers: Record<string, string>; body: Buffer; agent: http.Agent; timeoutMs?: number },
): Promise<{ status: number; text: string }> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: init.method,
      agent: init.agent,
      timeout: init.timeoutMs ?? REQUEST_TIMEOUT_MS,
      headers: { ...init.headers, 'content-length': String(init.body.byteLength) },
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.end(init.body);
  });
}

/** Media pieces, spooled by Spool. */
export class PieceUploader extends SpooledUploader<SpooledPiece> {
  constructor(options: PieceUploaderOptions) {
    const { server, session, spool } = options;
    super(options, {
      noun: 'piece',
      number: (piece) => piece.seq,
      forget: (seq) => spool.remove(seq),
      spoolDir: spool.dir,
      describe: (piece) => `${piece.size} bytes`,
      async send(piece, token, agent) {
        const url = new URL(`${server}/ingest/v1/sessions/${encodeURIComponent(session)}/pieces/${piece.seq}`);
        const { status, text } = await send(url, {
          method: 'PUT',
          agent,
          timeoutMs: options.requestTimeoutMs,
          body: spool.read(piece.seq),
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': options.contentType ?? 'video/webm',
            [IngestHeader.keyframe]: piece.keyframe ? '1' : '0',
            [IngestHeader.startMs]: String(piece.startMs),
            [IngestHeader.endMs]: String(piece.endMs),
          },
        });
        return interpret(piece, status, text);
      },
    });
  }
}

/** Maps a PUT reply to what to do next (docs/ingest-protocol.md, "Media pieces"). */
export function interpret(piece: SpooledPiece, status: number, text: string): Outcome {
  const json = safeJson(text);
  if (status === 200 || status === 201) {
    const ack = PieceAck.safeParse(json);
    if (!ack.success) return { kind: 'retry', reason: `unreadable acknowledgement (HTTP ${status})` };
    if (ack.data.seq !== piece.seq || ack.data.size !== piece.size) {
      return { kind: 'refused', reason: `acknowledged as seq ${ack.data.seq}, ${ack.data.size} bytes` };
    }
    if (ack.data.sha256.toLowerCase() !== piece.sha256) {
      return { kind: 'refused', reason: `server stored different bytes (sha256 ${ack.data.sha256})` };
    }
    return { kind: 'stored', duplicate: ack.data.duplicate };
  }
  const error = ErrorBody.safeParse(json);
  const code = error.success ? error.data.error.code : '';
  const described = error.success ? `${code}: ${error.data.error.message}` : `HTTP ${status}`;
  // Another upload holds the number, or took it over from this one after its lease ran out: ask again, and the
  // server either takes this one or compares it with what the other stored.
  if (status === 409 && (code === 'upload_in_progress' || code === 'upload_superseded')) {
    return { kind: 'retry', reason: described, onlyThisSeq: true };
  }
  if (status === 401) return { kind: 'token', reason: described };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason: described };
  // seq_conflict, recording_sealed, 400/413/422 and anything else: retrying cannot help.
  return { kind: 'refused', reason: `HTTP ${status} ${described}` };
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
