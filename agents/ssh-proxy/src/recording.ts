/**
 * One Witness session recorded by the proxy: its control socket, the asciicast pieces and activity batches
 * spooled and uploaded with the launcher's machinery (acknowledge, retry, token renewal), and its end.
 */
import { join } from 'node:path';
import type { CastHeader } from '../../../protocol/asciicast.ts';
import { type ServerControlMessage, type SshClient, welcomedPolicy } from '../../../protocol/control.ts';
import { PIECE_CONTENT_TYPE } from '../../../protocol/ingest.ts';
import type { EndReason, Policy } from '../../../protocol/session.ts';
import { PROTOCOL_VERSION } from '../../../protocol/version.ts';
import { ActivityLog, eventBatchUploader } from '../../launcher/src/activity-log.ts';
import { ControlChannel } from '../../launcher/src/control.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { EventSpool } from '../../launcher/src/spool.ts';
import { IngestToken } from '../../launcher/src/token.ts';
import { PieceUploader } from '../../launcher/src/uploader.ts';
import { thisHost } from '../../shared/host.ts';
import type { SshActivity } from './activity-events.ts';
import { CastRecorder } from './cast.ts';
import { CastSpool } from './cast-spool.ts';

/** `activity` is sent at most this often. */
const ACTIVITY_EVERY_MS = 10_000;

/** Who is recorded where, from the welcome. */
export type SessionInfo = Extract<ServerControlMessage, { type: 'welcome' }>['session'];

/** What the connection does when the server speaks. */
export interface RecordingHooks {
  message(text: string): void;
  terminate(message: string): void;
  /** The server ended the session (or closed it for good). */
  ended(reason: EndReason | null): void;
  /** The control socket cannot go on: the session can no longer be recorded. */
  fatal(reason: string): void;
}

export interface SessionRecordingOptions {
  server: string;
  session: string;
  token: string;
  expiresAt: string | null;
  spoolRoot: string;
  log: Logger;
  version: string;
  heartbeatMs?: number;
  /** How long `finish` keeps uploading. */
  drainTimeoutMs: number;
  /** The SSH client whose session this is, recorded with it. */
  client?: SshClient | null;
  /** The recorder's name in the hello (witness-agent records with this class too). */
  launcherName?: string;
}

export class SessionRecording {
  readonly session: string;
  readonly #options: SessionRecordingOptions;
  readonly #log: Logger;
  readonly #control: ControlChannel;
  readonly #spool: CastSpool;
  readonly #eventSpool: EventSpool;
  readonly #uploader: PieceUploader;
  readonly #eventUploader: ReturnType<typeof eventBatchUploader>;
  readonly #activityLog: ActivityLog;
  readonly cast: CastRecorder;
  #hooks: RecordingHooks | null = null;
  #policy: Policy | null = null;
  #info: SessionInfo | null = null;
  #lastActivityAt = 0;
  #welcomed: (() => void) | null = null;
  #failed: ((reason: string) => void) | null = null;
  #finishing: Promise<void> | null = null;
  #over = false;
  #castRedactions = 0;

  constructor(options: SessionRecordingOptions) {
    this.#options = options;
    this.session = options.session;
    const log = options.log;
    this.#log = log;
    const token = new IngestToken(options.token, options.expiresAt);
    this.#spool = new CastSpool(join(options.spoolRoot, options.session));
    this.#eventSpool = new EventSpool(this.#spool.dir);
    const common = {
      server: options.server,
      session: options.session,
      token,
      log,
      onTokenRejected: () => this.#control.renewNow(),
    };
    this.#uploader = new PieceUploader({
      ...common,
      spool: this.#spool,
      contentType: PIECE_CONTENT_TYPE.asciicast,
    });
    this.#eventUploader = eventBatchUploader({ ...common, spool: this.#eventSpool });
    this.#activityLog = new ActivityLog({
      spool: this.#eventSpool,
      upload: (batch) => this.#eventUploader.add(batch),
      log,
    });
    this.cast = new CastRecorder({
      onPiece: (piece) => {
        try {
          this.#uploader.add(this.#spool.write(piece));
        } catch (error) {
          // Without the spool the recording cannot be kept: the connection is closed (fail closed).
          this.#hooks?.fatal(`cannot write to the spool ${this.#spool.dir}: ${(error as Error).message}`);
        }
      },
    });
    const host = thisHost();
    this.#control = new ControlChannel({
      server: options.server,
      session: options.session,
      token,
      log,
      heartbeatMs: options.heartbeatMs,
      hello: {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        launcher: {
          name: options.launcherName ?? 'witness-ssh-proxy',
          version: options.version,
          platform: `${process.platform}-${process.arch}`,
        },
        reportsActivity: true,
        ...(host && { host }),
        ...(options.client && { client: options.client }),
      },
      handlers: {
        welcome: (message, first) => {
          this.#uploader.markStored(message.storedSeqs);
          if (!first) return;
          this.#policy = welcomedPolicy(message);
          this.#info = message.session;
          if (message.status === 'ended') this.#failed?.('the session has already ended');
          else this.#welcomed?.();
        },
        message: (message) => {
          this.#hooks?.message(message.text);
          this.#control.send({ type: 'delivered', id: message.id }, true);
        },
        terminate: (message) => {
          this.#hooks?.terminate(message.message);
          this.#control.send({ type: 'delivered', id: message.id }, true);
        },
        ended: (reason) => {
          this.#over = true;
          this.#failed?.(`the session is over (${reason ?? 'closed by the server'})`);
          this.#hooks?.ended(reason);
        },
        fatal: (reason) => {
          this.#over = true;
          this.#failed?.(reason);
          this.#hooks?.fatal(reason);
        },
      },
    });
  }

  get policy(): Policy | null {
    return this.#policy;
  }

  /** The launch's user and target, from the welcome. */
  get info(): SessionInfo | null {
    return this.#info;
  }

  get spoolDir(): string {
    return this.#spool.dir;
  }

  /** Connects the control socket; resolves null once welcomed, or the reason it was not. */
  open(timeoutMs: number): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle('the Witness server did not answer in time'), timeoutMs);
      const settle = (reason: string | null) => {
        clearTimeout(timer);
        this.#welcomed = this.#failed = null;
        resolve(reason);
      };
      this.#welcomed = () => settle(null);
      this.#failed = (reason) => settle(reason);
      this.#control.start();
    });
  }

  setHooks(hooks: RecordingHooks): void {
    this.#hooks = hooks;
  }

  /** Whether what the user types may be recorded. */
  get keystrokes(): boolean {
    return (this.#policy?.recordingEnabled ?? false) && (this.#policy?.keystrokesEnabled ?? false);
  }

  /** Starts the cast (its header is the session clock's 0); nothing when the policy says not to record. */
  begin(header: Omit<CastHeader, 'version'>): void {
    if (this.cast.started || !this.#policy?.recordingEnabled) return;
    this.cast.start(header);
    // Events are stamped on the session clock already.
    this.#activityLog.setOrigin(0);
  }

  /** Session-clock ms now. */
  now(): number {
    return this.cast.elapsedMs();
  }

  event(event: SshActivity): void {
    if (!this.cast.started) return;
    this.#activityLog.add(event);
  }

  /** Markers put into the cast for secrets typed on command lines (channel.ts, typed-lines.ts). */
  castRedacted(replaced: number): void {
    this.#castRedactions += replaced;
  }

  /** The user typed something: tell the server (at most every 10 s) so the inactivity timeout restarts. */
  userActive(): void {
    const now = Date.now();
    if (now - this.#lastActivityAt < ACTIVITY_EVERY_MS) return;
    if (this.#control.send({ type: 'activity' })) this.#lastActivityAt = now;
  }

  /**
   * Ends the recording: the last piece and batch are cut, everything is uploaded (until the drain deadline),
   * then `end` is sent. Resolves when done; pieces the server never took stay in the spool.
   */
  finish(error?: string): Promise<void> {
    this.#finishing ??= this.#finish(error);
    return this.#finishing;
  }

  async #finish(error: string | undefined): Promise<void> {
    this.cast.close();
    this.#activityLog.close();
    const log = this.#log;
    const deadline = Date.now() + this.#options.drainTimeoutMs;
    await Promise.all([this.#uploader.whenIdle(deadline), this.#eventUploader.whenIdle(deadline)]);
    if (!this.#over || this.#control.ready) {
      const ready = this.#control.ready || (await this.#control.whenReady(Math.max(0, deadline - Date.now())));
      const lastSeq = this.cast.lastSeq;
      if (ready) this.#control.send({ type: 'end', lastSeq, ...(error ? { error: error.slice(0, 4000) } : {}) });
      else log.warn(`session ${this.session}: could not tell the server that the session ended`);
    }
    await this.#control.close();
    this.#uploader.stop();
    this.#eventUploader.stop();
    const left = [...new Set([...this.#uploader.pending, ...this.#uploader.refused.keys()])];
    const leftBatches = [...new Set([...this.#eventUploader.pending, ...this.#eventUploader.refused.keys()])];
    if (left.length > 0 || leftBatches.length > 0) {
      log.error(
        `session ${this.session}: ${left.length} piece(s) and ${leftBatches.length} activity batch(es) ` +
          `not stored on the server; they are kept in ${this.#spool.dir}`,
      );
    } else {
      this.#eventSpool.removeIfEmpty();
      this.#spool.removeIfEmpty();
    }
    const pieces = this.cast.lastSeq === null ? 0 : this.cast.lastSeq + 1;
    log.info(
      `session ${this.session} ended: ${pieces} piece(s), ${(this.cast.bytes / 1024).toFixed(0)} KiB, ` +
        `${this.#uploader.stored} stored, ${this.#uploader.retries} retried; ` +
        `${this.#activityLog.events} activity event(s), ${this.#activityLog.redactions} secret(s) redacted ` +
        `(${this.#castRedactions} in the cast)`,
    );
  }
}
