/**
 * ffmpeg for `witness-processor`: which encoders this ffmpeg has, the arguments of a conversion (WebM on stdin,
 * MP4 with `+faststart` to a file), its progress lines, and the tail of its stderr kept for a failure's cause.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CODEC_ENCODER, STDERR_TAIL_BYTES, VideoCodec } from '../../../protocol/processing.ts';

/** The codecs whose encoder `ffmpeg -encoders` lists. */
export async function availableCodecs(ffmpeg: string): Promise<VideoCodec[]> {
  const { stdout } = await promisify(execFile)(ffmpeg, ['-hide_banner', '-encoders'], { maxBuffer: 4 * 1024 * 1024 });
  const encoders = new Set(
    stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[1])
      .filter(Boolean),
  );
  return VideoCodec.options.filter((codec) => encoders.has(CODEC_ENCODER[codec]));
}

/**
 * The conversion: the WebM's first video track only (so the MP4 holds exactly one track), in yuv420p (what
 * every player decodes) padded to even dimensions (4:2:0 needs them; a window of odd size would fail), with
 * the `moov` box moved to the front (`+faststart`) so that it plays while it downloads.
 */
export function conversionArgs(codec: VideoCodec, output: string): string[] {
  const encoder =
    codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23']
      : ['-c:v', 'libx265', '-preset', 'veryfast', '-crf', '28', '-tag:v', 'hvc1', '-x265-params', 'log-level=error'];
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-progress',
    'pipe:1',
    '-f',
    'webm',
    '-i',
    'pipe:0',
    '-map',
    '0:v:0',
    ...encoder,
    '-vf',
    'pad=ceil(iw/2)*2:ceil(ih/2)*2',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
    '-y',
    output,
  ];
}

/** Media time converted so far, from one `-progress` line (`out_time_us=…`), in ms; null for other lines. */
export function progressMs(line: string): number | null {
  const match = line.match(/^out_time_us=(\d+)$/);
  return match ? Math.floor(Number(match[1]) / 1000) : null;
}

/** Keeps the last STDERR_TAIL_BYTES of a stream's text. */
export class StderrTail {
  #text = '';

  push(chunk: Buffer | string): void {
    this.#text = (this.#text + chunk.toString()).slice(-STDERR_TAIL_BYTES * 2);
  }

  /** The tail, cut at a line start where it can be, at most STDERR_TAIL_BYTES characters. */
  toString(): string {
    const tail = this.#text.slice(-STDERR_TAIL_BYTES);
    const newline = tail.indexOf('\n');
    return (tail.length === STDERR_TAIL_BYTES && newline >= 0 ? tail.slice(newline + 1) : tail).trimEnd();
  }
}
