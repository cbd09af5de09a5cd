/**
 * The session's activity log: takes captured events (wall-clock stamped), moves them onto the session clock
 * once the first frame's time is known, checks them against protocol/activity.ts, and cuts them into
 * numbered batches that are spooled and then uploaded (POST /ingest/v1/sessions/{id}/events/{batch}).
 */
import { ActivityAck, ActivityEvent, MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from '../../../protocol/activity.ts';
import { ErrorBody } from '../../../protocol/ingest.ts';
import { redactEvent, totalRedactions } from '../../../protocol/redaction.ts';
import type { CapturedEvent } from './capture/capture.ts';
import { sessionMs } from './clock.ts';
import type { Logger } from './log.ts';
import type { EventSpool, SpooledBatch } from './spool.ts';
import { type Outcome, SpooledUploader, safeJson, send, type UploaderOptions } from './uploader.ts';

/** A batch is cut this long after its first event at the latest... */
export const BATCH_EVERY_MS = 2_000;
/** ...or as soon as it holds this many events. */
export const BATCH_AT_EVENTS = 200;
/**
 * Events held in memory while the session clock's origin is unknown; later ones wait on disk in the event spool
 * (`early.jsonl`) until it is known, so a capture that floods before the first frame costs disk, not memory or events.
 */
const MAX_EARLY_IN_MEMORY = 10_000;
/** Room left in a batch body for the envelope. */
const BODY_MARGIN = 1024;

/** The event with its times moved from epoch ms onto the session clock. */
export function toSessionClock(event: CapturedEvent, origin: number): CapturedEvent {
  const atMs = sessionMs(event.atMs, origin);
  switch (event.type) {
    case 'keys':
    case 'ssh.input':
      return { ...event, atMs, endMs: Math.max(atMs, sessionMs(event.endMs, origin)) };
    case 'process.stop':
      return event.startedAtMs === undefined
        ? { ...event, atMs }
        : { ...event, atMs, startedAtMs: sessionMs(event.startedAtMs, origin) };
    default:
      return { ...event, atMs };
  }
}

export interface ActivityLogOptions {
  spool: EventSpool;
  /** Hands a spooled batch to the uploader. */
  upload: (batch: SpooledBatch) => void;
  log: Logger;
  everyMs?: number;
  atEvents?: number;
  maxEvents?: number;
  maxBytes?: number;
  /** Events held in memory before the clock's origin is known (MAX_EARLY_IN_MEMORY). */
  earlyInMemory?: number;
}

export class ActivityLog {
  readonly #options: ActivityLogOptions;
  #origin: number | null = null;
  #early: CapturedEvent[] = [];
  /** Events held on disk (EventSpool.holdEarly) after `#early` filled. */
  #earlyOnDisk = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #nextBatch = 0;
  #closed = false;
  /** Events put into batches, for the summary. */
  events = 0;
  /** Secrets replaced before events were sent (protocol/redaction.ts). */
  redactions = 0;

  constructor(options: ActivityLogOptions) {
    this.#options = options;
  }

  /** Batches cut so far. */
  get batches(): number {
    return this.#nextBatch;
  }

  get origin(): number | null {
    return this.#origin;
  }

  /** The first frame was captured at `epochMs`: the session clock starts, held events go out. */
  setOrigin(epochMs: number): void {
    if (this.#origin !== null) return;
    this.#origin = epochMs;
    const early = this.#early;
    this.#early = [];
    for (const event of early) this.add(event);
    // Once memory filled, every early event went to the file (in order), and memory stayed empty.
    if (this.#earlyOnDisk > 0) {
      this.#options.spool.takeEarly((event) => this.add(event as CapturedEvent));
      this.#earlyOnDisk = 0;
    }
  }

  add(event: CapturedEvent): void {
    if (this.#closed) return;
    if (this.#origin === null) {
      const inMemory = this.#options.earlyInMemory ?? MAX_EARLY_IN_MEMORY;
      if (this.#early.length < inMemory && this.#earlyOnDisk === 0) this.#early.push(event);
      else this.#holdOnDisk(event);
      return;
    }
    const parsed = ActivityEvent.safeParse(toSessionClock(event, this.#origin));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.#options.log.error(
        `dropping an invalid ${event.type} event (${issue?.path.join('.')}: ${issue?.message ?? 'invalid'})`,
      );
      return;
    }
    // No secret leaves this machine in clear: command lines, titles, typed runs, SSH input (protocol/redaction.ts).
    const { event: redacted, counts } = redactEvent(parsed.data);
    this.redactions += totalRedactions(counts);
    const json = JSON.stringify(redacted);
    const bytes = Buffer.byteLength(json) + 1;
    const maxBytes = (this.#options.maxBytes ?? MAX_BATCH_BYTES) - BODY_MARGIN;
    if (this.#pendingBytes + bytes > maxBytes) this.flush();
    this.#pending.push(json);
    this.#pendingBytes += bytes;
    const atEvents = Math.min(this.#options.atEvents ?? BATCH_AT_EVENTS, this.#options.maxEvents ?? MAX_BATCH_EVENTS);
    if (this.#pending.length >= atEvents) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), this.#options.everyMs ?? BATCH_EVERY_MS);
      this.#timer.unref();
    }
  }

  /** From the first event memory cannot hold on, every early event waits on disk, those in memory first: in order. */
  #holdOnDisk(event: CapturedEvent): void {
    const events = this.#earlyOnDisk === 0 ? [...this.#early, event] : [event];
    if (this.#earlyOnDisk === 0) {
      this.#options.log.warn(
        `${this.#early.length} activity events came before the first frame; they and later ones wait in ${this.#options.spool.earlyFile}`,
      );
    }
    try {
      this.#options.spool.holdEarly(events);
      this.#earlyOnDisk += events.length;
      this.#early = [];
    } catch (error) {
      // Memory still holds what it held; only the event that did not fit is lost, and it is said.
      this.#options.log.error(
        `cannot hold a ${event.type} event in ${this.#options.spool.earlyFile}: ${(error as Error).message}; 1 event lost`,
      );
    }
  }

  /** Cuts what is pending into a batch, spools it and hands it to the uploader. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const batch = this.#nextBatch++;
    const body = `{"events":[${events.join(',')}]}`;
    try {
      const spooled = this.#options.spool.write(batch, body, events.length);
      this.events += events.length;
      this.#options.log.debug(`event batch ${batch}: ${events.length} event(s), ${spooled.size} bytes`);
      this.#options.upload(spooled);
    } catch (error) {
      this.#options.log.error(
        `cannot write event batch ${batch} to ${this.#options.spool.dir}: ${(error as Error).message}; ` +
          `${events.length} event(s) lost`,
      );
    }
  }

  /**
   * Cuts the last batch; later events are ignored. Events still waiting for the clock's origin (the recording never
   * started) have no place on a video's clock: they are written to the spool's `early.jsonl` and left there, named in
   * the log, for a human.
   */
  close(): void {
    this.flush();
    this.#closed = true;
    const held = this.#early.length + this.#earlyOnDisk;
    if (held === 0) return;
    try {
      this.#options.spool.holdEarly(this.#early);
      this.#options.log.warn(
        `${held} activity event(s) were captured but the recording never started: kept in ${this.#options.spool.earlyFile}, not uploaded`,
      );
    } catch (error) {
      this.#options.log.error(
        `${held} activity event(s) captured before a recording that never started are lost: ${(error as Error).message}`,
      );
    }
    this.#early = [];
  }
}

/** Maps a batch POST's reply to what to do next (docs/launcher.md, "Activity upload"). */
export function interpretBatchReply(batch: SpooledBatch, status: number, text: string): Outcome {
  const json = safeJson(text);
  if (status === 200 || status === 201) {
    const ack = ActivityAck.safeParse(json);
    if (!ack.success) return { kind: 'retry', reason: `unreadable acknowledgement (HTTP ${status})` };
    if (ack.data.batch !== batch.batch) return { kind: 'refused', reason: `acknowledged as batch ${ack.data.batch}` };
    const { rejected } = ack.data;
    if (rejected.length === 0) return { kind: 'stored', duplicate: ack.data.duplicate };
    const list = rejected.map((r) => `#${r.index}: ${r.reason}`).join('; ');
    return {
      kind: 'stored',
      duplicate: ack.data.duplicate,
      problem: `the server rejected ${rejected.length} of ${batch.events} event(s): ${list}`,
    };
  }
  const error = ErrorBody.safeParse(json);
  const code = error.success ? error.data.error.code : '';
  const described = error.success ? `${code}: ${error.data.error.message}` : `HTTP ${status}`;
  if (status === 409 && code === 'upload_in_progress') return { kind: 'retry', reason: described, onlyThisSeq: true };
  if (status === 401) return { kind: 'token', reason: described };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason: described };
  // batch_conflict, recording_sealed, 400/413/422 and anything else: retrying cannot help.
  return { kind: 'refused', reason: `HTTP ${status} ${described}` };
}

/** Uploads spooled activity batches with the media uploader's guarantees. */
export function eventBatchUploader(options: UploaderOptions & { spool: EventSpool }): SpooledUploader<SpooledBatch> {
  const { server, session, spool } = options;
  return new SpooledUploader<SpooledBatch>(options, {
    noun: 'event batch',
    number: (batch) => batch.batch,
    forget: (batch) => spool.remove(batch),
    spoolDir: spool.dir,
    describe: (batch) => `${batch.events} event(s)`,
    async send(batch, token, agent) {
      const url = new URL(`${server}/ingest/v1/sessions/${encodeURIComponent(session)}/events/${batch.batch}`);
      const body = spool.read(batch.batch);
      const { status, text } = await send(url, {
        method: 'POST',
        agent,
        timeoutMs: options.requestTimeoutMs,
        body,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      const outcome = interpretBatchReply(batch, status, text);
      if (outcome.kind === 'stored' && outcome.problem) {
        // Name the refused events' types so the error line says what was lost.
        const events = (safeJson(body.toString('utf8')) as { events?: { type?: string }[] } | undefined)?.events;
        const ack = ActivityAck.safeParse(safeJson(text));
        const types = ack.success ? ack.data.rejected.map((r) => events?.[r.index]?.type ?? '?') : [];
        outcome.problem += ` (types: ${types.join(', ')})`;
      }
      return outcome;
    },
  });
}
