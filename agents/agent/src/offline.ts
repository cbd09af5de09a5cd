/**
 * A login recorded while Witness could not be reached (or refused the agent's key): the cast pieces and
 * activity batches go into the spool exactly as an online session's do, under a local id, with `login.json`
 * saying whose login it was. `witness-agent flush` launches it on the server later and uploads it all
 * (upload.ts). Nothing is sent from here; nothing is deleted until the server has stored it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ActivityEvent } from '../../../protocol/activity.ts';
import type { CastHeader } from '../../../protocol/asciicast.ts';
import { AgentLogin } from '../../../protocol/session.ts';
import { ActivityLog } from '../../launcher/src/activity-log.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { EventSpool } from '../../launcher/src/spool.ts';
import type { SshActivity } from '../../ssh-proxy/src/activity-events.ts';
import { CastRecorder } from '../../ssh-proxy/src/cast.ts';
import { CastSpool } from '../../ssh-proxy/src/cast-spool.ts';

/** Offline recordings' folders start with this, beside the online sessions' (named by their session id). */
export const PENDING_PREFIX = 'pending-';
export const LOGIN_FILE = 'login.json';

/** What `flush` needs to launch the session later. */
export const PendingLogin = z.strictObject({
  user: z.string(),
  target: z.string(),
  protocol: z.enum(['ssh', 'console']),
  login: AgentLogin,
  /** Epoch ms when the login was recorded. */
  recordedAt: z.number().int(),
  /** Why it was not sent at once. */
  why: z.string(),
  /** The last seq written, once the login is over (null: still recording, or nothing recorded). */
  lastSeq: z.number().int().nullable(),
  /** Set when the login is over: only finished recordings are uploaded. */
  finished: z.boolean(),
  /**
   * The recorder's process: a recording it never finished (it was killed, the disk filled before `finished`
   * was written) is uploaded once that process is gone, up to its last spooled piece.
   */
  pid: z.number().int(),
});
export type PendingLogin = z.infer<typeof PendingLogin>;

export class OfflineRecording {
  readonly dir: string;
  readonly cast: CastRecorder;
  readonly keystrokes: boolean;
  readonly #spool: CastSpool;
  readonly #activityLog: ActivityLog;
  readonly #meta: PendingLogin;
  #spoolError: string | null = null;
  onSpoolError: (reason: string) => void = () => {};

  constructor(
    spoolRoot: string,
    meta: Omit<PendingLogin, 'lastSeq' | 'finished' | 'pid'>,
    log: Logger,
    keystrokes: boolean,
  ) {
    this.dir = join(spoolRoot, `${PENDING_PREFIX}${randomUUID()}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.keystrokes = keystrokes;
    this.#meta = { ...meta, lastSeq: null, finished: false, pid: process.pid };
    this.#writeMeta();
    this.#spool = new CastSpool(this.dir, 0);
    const events = new EventSpool(this.dir);
    // Batches stay in the spool: flush uploads them with the pieces.
    this.#activityLog = new ActivityLog({ spool: events, upload: () => {}, log });
    this.cast = new CastRecorder({
      onPiece: (piece) => {
        try {
          this.#spool.write(piece);
        } catch (error) {
          this.#spoolError ??= `cannot write to the spool ${this.dir}: ${(error as Error).message}`;
          this.onSpoolError(this.#spoolError);
        }
      },
    });
  }

  begin(header: Omit<CastHeader, 'version'>): void {
    if (this.cast.started) return;
    this.cast.start(header);
    this.#activityLog.setOrigin(0);
  }

  now(): number {
    return this.cast.elapsedMs();
  }

  event(
    event: SshActivity | Extract<ActivityEvent, { type: 'process.start' | 'process.stop' | 'agent.tamper' }>,
  ): void {
    if (this.cast.started) this.#activityLog.add(event);
  }

  userActive(): void {}

  async finish(): Promise<void> {
    this.cast.close();
    this.#activityLog.close();
    this.#meta.lastSeq = this.cast.lastSeq;
    this.#meta.finished = true;
    this.#writeMeta();
  }

  #writeMeta(): void {
    const file = join(this.dir, LOGIN_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(this.#meta), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}
