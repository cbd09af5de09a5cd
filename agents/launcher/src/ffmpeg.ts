/** ffmpeg command lines per screen source and codec, and the running encoder whose stdout is live WebM. */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Codec, Source } from './args.ts';
import { firstFrameAt, parseInputStart } from './clock.ts';
import type { Logger } from './log.ts';
import { type MediaPiece, WebmSplitter } from './webm-splitter.ts';

export interface CaptureSettings {
  source: Source;
  /** Source-specific: X display, gdigrab input, ddagrab output index, avfoundation device. */
  display: string | undefined;
  fps: number;
  codec: Codec;
}

/**
 * Seconds between keyframes. A joining live viewer is sent the pieces since the newest keyframe (at most this
 * many, about 1.3 MB on a busy 1080p screen) and a seek decodes at most this much; a keyframe re-encodes the
 * whole screen, so at 10 s they were 30 % of the bytes (docs/benchmarks.md, "Bytes per hour").
 */
export const KEYFRAME_INTERVAL_S = 30;

/** Cluster size at which the muxer starts a new one; well under the 16 MiB piece limit (MAX_PIECE_BYTES). */
export const CLUSTER_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

/** Frames per keyframe interval (`-g`). */
export function keyframeInterval(fps: number): number {
  return Math.max(1, Math.round(KEYFRAME_INTERVAL_S * fps));
}

/**
 * `-cluster_time_limit` that yields about one Cluster per second. The muxer starts a new Cluster with the
 * first frame more than the limit after the Cluster's first frame, so the limit is one second less one
 * frame (at 1 fps: every frame is its own Cluster, written as soon as the next frame arrives).
 */
export function clusterTimeLimitMs(fps: number): number {
  return Math.max(1, Math.round(1000 - 1000 / fps));
}

/** Input arguments for each source. Only x11 and testsrc are exercised by the tests. */
export function inputArgs(settings: CaptureSettings, env: NodeJS.ProcessEnv = process.env): string[] {
  const fps = String(settings.fps);
  switch (settings.source) {
    case 'x11':
      return ['-f', 'x11grab', '-framerate', fps, '-draw_mouse', '1', '-i', settings.display ?? env.DISPLAY ?? ':0'];
    case 'testsrc':
      // -re: lavfi would otherwise produce frames as fast as the encoder takes them.
      return ['-re', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${fps}`];
    case 'gdigrab':
      return ['-f', 'gdigrab', '-framerate', fps, '-draw_mouse', '1', '-i', settings.display ?? 'desktop'];
    case 'ddagrab':
      // Desktop Duplication (ffmpeg 6.0+) yields GPU frames; hwdownload brings them to system memory.
      return ['-f', 'lavfi', '-i', `ddagrab=output_idx=${settings.display ?? '0'}:framerate=${fps}:draw_mouse=1`];
    case 'avfoundation':
      return [
        '-f',
        'avfoundation',
        '-capture_cursor',
        '1',
        '-framerate',
        fps,
        '-i',
        `${settings.display ?? 'Capture screen 0'}:none`,
      ];
  }
}

/** Video filter: 4:2:0 so every browser's MSE decodes it (x11grab RGB would otherwise become VP9 profile 1). */
function filterArgs(source: Source): string[] {
  return ['-vf', source === 'ddagrab' ? 'hwdownload,format=bgra,format=yuv420p' : 'format=yuv420p'];
}

/**
 * Encoder arguments. Realtime libvpx with no lookahead (the default lag of 25 frames would hold 25 s of
 * video at 1 fps), constant quality, a keyframe every KEYFRAME_INTERVAL_S. VP9 at speed 6 rather than 8, CRF
 * 40 rather than 36, one tile column (row-mt still spreads the rows over threads): on a 1080p terminal desktop
 * the same text SSIM (0.998, above a JPEG at quality 82) in a third fewer bytes, for a few ms more CPU a
 * frame (docs/benchmarks.md, "Bytes per hour").
 */
export function encoderArgs(codec: Codec, fps: number): string[] {
  const common = ['-deadline', 'realtime', '-lag-in-frames', '0', '-g', String(keyframeInterval(fps))];
  if (codec === 'vp9') {
    const screen = ['-row-mt', '1', '-tile-columns', '0', '-tune-content', 'screen'];
    return ['-c:v', 'libvpx-vp9', ...common, '-cpu-used', '6', ...screen, '-b:v', '0', '-crf', '40'];
  }
  // VP8 needs a bitrate ceiling with -crf; 2 Mb/s is never reached by a desktop at a few fps.
  return ['-c:v', 'libvpx', ...common, '-cpu-used', '8', '-b:v', '2M', '-crf', '30'];
}

/** The whole ffmpeg command line (without the program name). */
export function ffmpegArgs(settings: CaptureSettings, env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    '-hide_banner',
    // Info for the input dump, whose `start:` is the first frame's capture time (clock.ts); the level tags
    // tell the errors apart from it.
    '-loglevel',
    'level+info',
    '-nostats',
    ...inputArgs(settings, env),
    ...filterArgs(settings.source),
    ...encoderArgs(settings.codec, settings.fps),
    '-an',
    '-f',
    'webm',
    '-live',
    '1',
    '-cluster_time_limit',
    String(clusterTimeLimitMs(settings.fps)),
    // On a pipe the muxer's default cuts Clusters at 32 KiB; a busy screen would make many tiny pieces.
    '-cluster_size_limit',
    String(CLUSTER_SIZE_LIMIT_BYTES),
    'pipe:1',
  ];
}

export interface EncoderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ffmpeg ended without being asked to (display gone, device error...). */
  unexpected: boolean;
  /** Last lines ffmpeg wrote to stderr. */
  stderrTail: string[];
}

export interface ScreenEncoderOptions {
  settings: CaptureSettings;
  log: Logger;
  /** Called for every piece, in order; must not throw. */
  onPiece: (piece: MediaPiece) => void;
  ffmpegPath?: string;
  /** How long `stop` waits for ffmpeg to finish the last Cluster before killing it. */
  stopTimeoutMs?: number;
  /** Called once with the epoch ms at which the first frame was captured (the session clock's 0). */
  onFirstFrame?: (epochMs: number) => void;
}

/** One stderr line of `-loglevel level+info`: its level and its text without the level tag. */
export function classifyLogLine(line: string): { level: string; text: string } {
  const match = /^((?:\[[^\]]*@ 0x[0-9a-f]+\] )?)\[(trace|debug|verbose|info|warning|error|fatal|panic)\] (.*)$/.exec(
    line,
  );
  if (!match) return { level: 'error', text: line };
  return { level: match[2] as string, text: `${match[1]}${match[3]}` };
}

/** A running ffmpeg whose output is cut into pieces. */
export class ScreenEncoder {
  readonly done: Promise<EncoderExit>;
  /** Epoch ms at which ffmpeg was started. */
  readonly spawnedAt: number;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #log: Logger;
  readonly #stopTimeoutMs: number;
  #stopping = false;
  #failed: Error | null = null;

  constructor(options: ScreenEncoderOptions) {
    this.#log = options.log;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    const args = ffmpegArgs(options.settings);
    this.#log.debug(`ffmpeg ${args.join(' ')}`);
    const splitter = new WebmSplitter({ frameDurationMs: 1000 / options.settings.fps });
    // Own process group: a Ctrl-C in the terminal is the launcher's to handle, not ffmpeg's.
    this.#child = spawn(options.ffmpegPath ?? 'ffmpeg', args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    this.spawnedAt = Date.now();
    const stderrTail: string[] = [];
    let stderrRest = '';
    let firstFrame: number | null = null;
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      const lines = (stderrRest + text).split(/\r?\n/);
      stderrRest = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) {
        const { level, text } = classifyLogLine(line);
        if (level === 'info' || level === 'verbose' || level === 'debug' || level === 'trace') {
          const start = parseInputStart(text);
          const at = start === null || firstFrame !== null ? null : firstFrameAt(start);
          if (at !== null) {
            firstFrame = at;
            this.#log.debug(
              `first frame captured at ${new Date(at).toISOString()}, ${at - this.spawnedAt} ms after ffmpeg started`,
            );
            options.onFirstFrame?.(at);
          }
          continue;
        }
        if (level === 'warning') {
          this.#log.debug(`ffmpeg: ${text}`);
          continue;
        }
        this.#log.warn(`ffmpeg: ${text}`);
        stderrTail.push(text);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    });
    this.#child.stdin.on('error', () => {}); // EPIPE when ffmpeg is already gone; `done` reports that.
    this.#child.stdout.on('data', (chunk: Buffer) => {
      if (this.#failed) return;
      try {
        for (const piece of splitter.push(chunk)) options.onPiece(piece);
      } catch (error) {
        this.#failed = error as Error;
        this.#log.error(`cannot cut ffmpeg output: ${this.#failed.message}`);
        this.#child.kill('SIGKILL');
      }
    });
    this.done = new Promise((resolve) => {
      let spawnError: Error | null = null;
      this.#child.on('error', (error) => {
        spawnError = error;
      });
      this.#child.on('close', (code, signal) => {
        if (!this.#failed) {
          try {
            for (const piece of splitter.end()) options.onPiece(piece);
          } catch (error) {
            this.#failed = error as Error;
          }
        }
        const rest = stderrRest ? classifyLogLine(stderrRest) : null;
        if (rest && ['error', 'fatal', 'panic'].includes(rest.level)) stderrTail.push(rest.text);
        if (spawnError) stderrTail.push(`cannot run ffmpeg: ${(spawnError as Error).message}`);
        if (this.#failed) stderrTail.push(this.#failed.message);
        if (splitter.droppedBytes > 0) this.#log.debug(`dropped ${splitter.droppedBytes} trailing bytes (Cues/Tags)`);
        resolve({
          code,
          signal,
          unexpected: !this.#stopping || this.#failed !== null || spawnError !== null,
          stderrTail,
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Asks ffmpeg to finish ('q' on stdin writes out the last Cluster), kills it if it has not exited after
   * the timeout. Resolves when it is gone and every piece has been handed to onPiece.
   */
  async stop(): Promise<EncoderExit> {
    if (!this.#stopping) {
      this.#stopping = true;
      if (this.#child.exitCode === null && this.#child.signalCode === null) {
        this.#child.stdin.end('q');
        const timer = setTimeout(() => {
          this.#log.warn('ffmpeg did not stop in time; killing it');
          this.#child.kill('SIGKILL');
        }, this.#stopTimeoutMs);
        void this.done.finally(() => clearTimeout(timer));
      }
    }
    return this.done;
  }
}
