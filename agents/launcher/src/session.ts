/**
 * One recorded session from start to exit code: control socket, screen encoder, spool and uploads,
 * the recorded program, and the order in which they are stopped.
 */
import { join } from 'node:path';
import { welcomedPolicy } from '../../../protocol/control.ts';
import type { EndReason, Policy } from '../../../protocol/session.ts';
import { PROTOCOL_VERSION } from '../../../protocol/version.ts';
import { thisHost } from '../../shared/host.ts';
import { ActivityWatcher } from './activity.ts';
import { ActivityLog, eventBatchUploader } from './activity-log.ts';
import type { RecordingOptions } from './args.ts';
import { type ActivityCapture, SESSION_MARKER } from './capture/capture.ts';
import { openActivityCapture } from './capture/open.ts';
import { ControlChannel } from './control.ts';
import { ScreenEncoder } from './ffmpeg.ts';
import { type IdleReader, idleSourceFor, openIdleReader } from './idle-time.ts';
import type { Logger } from './log.ts';
import { showDialog } from './notify.ts';
import { RecordedProgram } from './recorded-program.ts';
import { EventSpool, Spool, type SpooledPiece } from './spool.ts';
import { IngestToken } from './token.ts';
import { PieceUploader } from './uploader.ts';
import type { MediaPiece } from './webm-splitter.ts';

/** Process exit codes (docs/launcher.md). */
export const ExitCode = {
  ok: 0,
  /** Bad arguments, refused launch or control socket, replaced by another connection. */
  failed: 1,
  terminatedByAdmin: 3,
  /** The server ended the session (inactivity, maximum length, ...). */
  endedByServer: 4,
  /** Pieces or activity batches could not be uploaded before the drain deadline; they are still in the spool. */
  piecesLeft: 5,
  /** ffmpeg failed, so the session could not be recorded. */
  recorderFailed: 6,
} as const;

/** How long the recorded program waits for the screen capture to start. */
const CAPTURE_START_TIMEOUT_MS = 10_000;

export interface SessionRun {
  session: string;
  token: string;
  /** Token expiry from the launch reply; null when the token came from the command line. */
  expiresAt: string | null;
  recording: RecordingOptions;
  log: Logger;
  version: string;
  heartbeatMs?: number;
}

/** Why the session is ending; the first one wins. */
type Ending =
  | { kind: 'local'; why: string }
  | { kind: 'terminated' }
  | { kind: 'server'; reason: EndReason | null }
  | { kind: 'fatal'; reason: string }
  | { kind: 'recorder'; detail: string }
  | { kind: 'program-failed'; detail: string };

export async function runSession(run: SessionRun): Promise<number> {
  const { recording, log } = run;
  const spool = new Spool(join(recording.spoolRoot, run.session));
  let leftovers: SpooledPiece[];
  try {
    leftovers = spool.list();
  } catch (error) {
    log.error(`${(error as Error).message}; move ${spool.dir} away before recording this session again`);
    return ExitCode.failed;
  }
  if (leftovers.length > 0) {
    log.error(
      `${spool.dir} still holds ${leftovers.length} piece(s) of an earlier run of this session ` +
        `(seq ${formatSeqs(leftovers.map((p) => p.seq))}); move them away before recording this session again`,
    );
    return ExitCode.failed;
  }
  const eventSpool = new EventSpool(spool.dir);
  const leftoverBatches = eventSpool.list();
  if (leftoverBatches.length > 0) {
    log.error(
      `${eventSpool.dir} still holds ${leftoverBatches.length} activity batch(es) of an earlier run of this ` +
        `session (batch ${formatSeqs(leftoverBatches)}); move them away before recording this session again`,
    );
    return ExitCode.failed;
  }

  const display = recording.source === 'x11' ? (recording.display ?? process.env.DISPLAY) : process.env.DISPLAY;
  // Connected before the hello, which says whether this launcher reports user input.
  let capture: ActivityCapture | null = await openActivityCapture({ source: recording.source, display, log });
  // The user's input, on every platform (idle-time.ts): without it the server counts each piece as activity.
  const idleSource = idleSourceFor(recording.source, display);
  const watchIdle = idleSource !== null;
  const reportsActivity = watchIdle || capture?.seesInput === true;
  const token = new IngestToken(run.token, run.expiresAt);

  let ending: Ending | null = null;
  let announceEnding: (ending: Ending) => void = () => {};
  const ended = new Promise<Ending>((resolve) => {
    announceEnding = resolve;
  });
  const finish = (why: Ending) => {
    if (ending) return;
    ending = why;
    announceEnding(why);
  };

  let lastSeq: number | null = null;
  let bytesRecorded = 0;
  let terminateShown = false;
  let markCaptureStarted: () => void = () => {};
  const captureStarted = new Promise<void>((resolve) => {
    markCaptureStarted = resolve;
  });
  let markFirstFrame: (at: number) => void = () => {};
  const firstFrame = new Promise<number>((resolve) => {
    markFirstFrame = resolve;
  });

  let control: ControlChannel | null = null;
  const uploader = new PieceUploader({
    server: recording.server,
    session: run.session,
    token,
    spool,
    log,
    onTokenRejected: () => control?.renewNow(),
  });
  const eventUploader = eventBatchUploader({
    server: recording.server,
    session: run.session,
    token,
    spool: eventSpool,
    log,
    onTokenRejected: () => control?.renewNow(),
  });
  const activityLog = new ActivityLog({ spool: eventSpool, upload: (batch) => eventUploader.add(batch), log });
  let encoder: ScreenEncoder | null = null;
  const onPiece = (piece: MediaPiece) => {
    try {
      const spooled = spool.write(piece);
      lastSeq = piece.seq;
      bytesRecorded += spooled.size;
      uploader.add(spooled);
      if (piece.seq === 0) markCaptureStarted();
      if (piece.seq >= 1 && activityLog.origin === null && encoder) {
        // ffmpeg did not say when its first frame was taken (an input that is not on a clock we know).
        log[capture ? 'warn' : 'debug']('the first frame time is unknown; activity is timed from the start of ffmpeg');
        activityLog.setOrigin(encoder.spawnedAt);
      }
      log.debug(
        `piece ${piece.seq}: ${spooled.size} bytes, ${piece.startMs}-${piece.endMs} ms${piece.keyframe ? ', keyframe' : ''}`,
      );
    } catch (error) {
      finish({ kind: 'recorder', detail: `cannot write to the spool ${spool.dir}: ${(error as Error).message}` });
    }
  };

  let resolveWelcome: (policy: Policy) => void = () => {};
  const firstWelcome = new Promise<Policy>((resolve) => {
    resolveWelcome = resolve;
  });
  control = new ControlChannel({
    server: recording.server,
    session: run.session,
    token,
    log,
    heartbeatMs: run.heartbeatMs,
    hello: {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      launcher: { name: 'witness-launcher', version: run.version, platform: `${process.platform}-${process.arch}` },
      reportsActivity,
      ...withHost(),
    },
    handlers: {
      welcome(message, first) {
        uploader.markStored(message.storedSeqs);
        if (first) resolveWelcome(welcomedPolicy(message));
      },
      message(message) {
        log.info(`Message from administrator: ${message.text}`);
        showDialog(message.text, display);
        control?.send({ type: 'delivered', id: message.id }, true);
      },
      terminate(message) {
        log.info(`Session terminated by administrator: ${message.message}`);
        terminateShown = true;
        showDialog(`Session terminated by administrator: ${message.message}`, display);
        control?.send({ type: 'delivered', id: message.id }, true);
        finish({ kind: 'terminated' });
      },
      ended(reason) {
        finish({ kind: 'server', reason });
      },
      fatal(reason) {
        finish({ kind: 'fatal', reason });
      },
    },
  });

  let program: RecordedProgram | null = null;
  let activity: ActivityWatcher | null = null;
  let idle: IdleReader | null = null;
  let stopTimer: NodeJS.Timeout | null = null;

  // Signals: the first ends the session; a second one stops waiting for uploads.
  let abortDrain: () => void = () => {};
  const drainAborted = new Promise<void>((resolve) => {
    abortDrain = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (ending) {
      log.info(`${signal} again: not waiting for uploads`);
      abortDrain();
      return;
    }
    // With a program in the foreground of a terminal, Ctrl-C is the program's (it got the same SIGINT).
    if (signal === 'SIGINT' && program?.running && process.stdin.isTTY) return;
    finish({ kind: 'local', why: signal });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  control.start();
  const welcomed = await Promise.race([
    firstWelcome,
    ended.then(() => null),
    sleep(recording.connectTimeoutMs).then(() => null),
  ]);
  if (welcomed === null && !ending) {
    // The session stays pending on the server until its launch expires: say so, and how to take it up again.
    finish({
      kind: 'fatal',
      reason:
        `no answer from ${recording.server} on the control socket for ${recording.connectTimeoutMs / 1000} s; ` +
        `session ${run.session} was not recorded and stays pending on the server until its launch expires` +
        (token.expiresAt === null ? '' : ` (${new Date(token.expiresAt).toISOString()})`) +
        `; \`witness-launcher record --session ${run.session} --token …\` before then records it`,
    });
  }

  if (!ending && welcomed !== null) {
    if (welcomed.recordingEnabled) {
      encoder = new ScreenEncoder({
        settings: { source: recording.source, display: recording.display, fps: recording.fps, codec: recording.codec },
        log,
        onPiece,
        onFirstFrame: (at) => {
          activityLog.setOrigin(at);
          markFirstFrame(at);
        },
      });
      void encoder.done.then((exit) => {
        if (!exit.unexpected) return;
        const detail = exit.stderrTail.at(-1) ?? `ffmpeg exited with ${exit.signal ?? `code ${exit.code}`}`;
        finish({ kind: 'recorder', detail });
      });
      log.info(`recording session ${run.session} (${recording.source}, ${recording.codec}, ${recording.fps} fps)`);
    } else {
      markCaptureStarted();
      log.info(`recording is off for session ${run.session} by policy; the screen is not captured`);
    }
    const seconds = recording.seconds;
    if (seconds !== undefined) {
      // Count from the first captured frame, so N seconds means N seconds of video: its capture time when
      // ffmpeg tells it (x11grab), else ffmpeg's start — the same origin the activity clock falls back to. (The
      // header's arrival is no origin: ffmpeg probes its input first, which at 1 fps takes seconds.)
      const origin = () => encoder?.spawnedAt ?? Date.now();
      void Promise.race([firstFrame, captureStarted.then(origin), sleep(CAPTURE_START_TIMEOUT_MS).then(origin)]).then(
        (from) => {
          if (ending) return;
          const left = Math.max(0, from + seconds * 1000 - Date.now());
          stopTimer = setTimeout(() => finish({ kind: 'local', why: `${seconds} s elapsed` }), left);
        },
      );
    }
    if (reportsActivity) {
      idle = idleSource && openIdleReader(idleSource);
      activity = new ActivityWatcher({
        onActivity: () => control?.send({ type: 'activity' }),
        ...(idle && { readIdleMs: idle.read }),
      });
      if (idle) activity.start();
    }
    // The basic recording level records the screen only: no keystrokes, processes or windows are captured
    // (activity then comes from screen changes); the server refuses such events from a basic session anyway.
    const basic = welcomed.recordingLevel === 'basic';
    if (capture && basic) {
      await capture.stop().catch(() => {});
      capture = null;
      log.info(`session ${run.session} is recorded at the basic level: the screen only`);
    }
    if (capture) {
      // Activity events are on the recording's clock, so without a recording only input is watched.
      const events = welcomed.recordingEnabled;
      try {
        await capture.start({
          sink: {
            event: (event) => activityLog.add(event),
            input: () => activity?.noteInput(),
            // Held while the socket is down: the record must learn how processes were captured.
            status: (status) => control?.send({ type: 'capture', capture: status }, true),
          },
          events,
          keystrokes: events && welcomed.keystrokesEnabled,
          session: run.session,
        });
      } catch (error) {
        log.warn(`activity capture failed to start: ${(error as Error).message}`);
        await capture.stop().catch(() => {});
        capture = null;
      }
    }
    if (!capture) {
      const detail = !welcomed.recordingEnabled
        ? 'recording is off by policy'
        : basic
          ? 'basic recording level: the screen only'
          : `no activity capture for --source ${recording.source}`;
      control.send({ type: 'capture', capture: { processes: { method: 'none', excluded: 0, detail } } }, true);
    }
    if (recording.command.length > 0) {
      // Start the program once the capture runs, so nothing it shows goes unrecorded.
      await Promise.race([captureStarted, ended, sleep(CAPTURE_START_TIMEOUT_MS)]);
      if (!ending) {
        // The marker makes the program and all it starts this session's (capture/processes.ts).
        const env = {
          ...process.env,
          ...(recording.source === 'x11' && recording.display ? { DISPLAY: recording.display } : {}),
          [SESSION_MARKER]: run.session,
        };
        const started = new RecordedProgram(recording.command, env);
        program = started;
        if (started.pid !== undefined) capture?.programStarted(started.pid);
        void started.done.then((exit) => {
          if (exit.error)
            finish({ kind: 'program-failed', detail: `cannot run ${recording.command[0]}: ${exit.error.message}` });
          else finish({ kind: 'local', why: `${recording.command[0]} exited (${exit.signal ?? `code ${exit.code}`})` });
        });
      }
    }
  }

  const why = await ended;
  // Stop in this order: the program (nothing unrecorded happens after the capture), the capture (it
  // writes its last Cluster), then the uploads of what is left.
  if (stopTimer) clearTimeout(stopTimer);
  activity?.stop();
  idle?.close();
  if (why.kind === 'local') log.debug(`ending: ${why.why}`);
  if (program?.running) await program.stop();
  // After the program (its processes' ends are seen), before the encoder (events stay within the video).
  await capture?.stop().catch((error: Error) => log.warn(`stopping the activity capture: ${error.message}`));
  activityLog.close();
  if (encoder) await encoder.stop();

  // Both before `end`: once the recording is sealed the server takes neither pieces nor activity.
  const deadline = Date.now() + recording.drainTimeoutMs;
  if (uploader.pending.length > 0) log.info(`uploading ${uploader.pending.length} remaining piece(s)...`);
  await Promise.race([Promise.all([uploader.whenIdle(deadline), eventUploader.whenIdle(deadline)]), drainAborted]);

  if (why.kind !== 'fatal') {
    const ready = control.ready || (await control.whenReady(Math.max(0, Math.min(deadline - Date.now(), 10_000))));
    const error = why.kind === 'recorder' || why.kind === 'program-failed' ? why.detail.slice(0, 4000) : undefined;
    if (ready) control.send({ type: 'end', lastSeq, ...(error ? { error } : {}) });
    else if (why.kind !== 'server') log.warn('could not tell the server that the session ended (control socket down)');
  }
  await control.close();
  uploader.stop();
  eventUploader.stop();
  for (const signal of signals) process.off(signal, onSignal);

  let code = exitCodeFor(why, log, terminateShown);
  const left = [...new Set([...uploader.pending, ...uploader.refused.keys()])].sort((a, b) => a - b);
  const leftBatches = [...new Set([...eventUploader.pending, ...eventUploader.refused.keys()])].sort((a, b) => a - b);
  if (left.length > 0) {
    log.error(`pieces not stored on the server: seq ${formatSeqs(left)}; they are kept in ${spool.dir}`);
  }
  if (leftBatches.length > 0) {
    log.error(
      `activity batches not stored on the server: batch ${formatSeqs(leftBatches)}; they are kept in ${eventSpool.dir}`,
    );
  }
  if (left.length > 0 || leftBatches.length > 0) {
    if (code === ExitCode.ok || code === ExitCode.endedByServer) code = ExitCode.piecesLeft;
  } else {
    eventSpool.removeIfEmpty();
    spool.removeIfEmpty();
  }
  log.info(
    `session ${run.session} ended: ${lastSeq === null ? 0 : lastSeq + 1} piece(s), ` +
      `${(bytesRecorded / 1024).toFixed(0)} KiB, ${uploader.stored} stored, ${uploader.retries} retried; ` +
      `${activityLog.events} activity event(s) in ${activityLog.batches} batch(es), ` +
      `${activityLog.redactions} secret(s) redacted`,
  );
  return code;
}

function exitCodeFor(why: Ending, log: Logger, terminateShown: boolean): number {
  switch (why.kind) {
    case 'local':
      return ExitCode.ok;
    case 'terminated':
      return ExitCode.terminatedByAdmin;
    case 'server':
      if (why.reason === 'ended_by_user') return ExitCode.ok;
      if (why.reason === 'terminated_by_admin') {
        if (!terminateShown) log.info('Session terminated by administrator');
        return ExitCode.terminatedByAdmin;
      }
      log.info(`the server ended the session: ${why.reason ?? 'no reason given'}`);
      return ExitCode.endedByServer;
    case 'fatal':
      log.error(why.reason);
      return ExitCode.failed;
    case 'recorder':
      log.error(`screen recording failed: ${why.detail}`);
      return ExitCode.recorderFailed;
    case 'program-failed':
      log.error(why.detail);
      return ExitCode.failed;
  }
}

/** "1-4, 7, 9-10". */
export function formatSeqs(seqs: readonly number[]): string {
  const sorted = [...seqs].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    ranges.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(', ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The hello's `host`, when this machine can be named. */
function withHost(): { host?: NonNullable<ReturnType<typeof thisHost>> } {
  const host = thisHost();
  return host ? { host } : {};
}
