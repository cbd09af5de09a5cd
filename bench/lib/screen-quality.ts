/**
 * Quality and cost of encodings of the same frames: each encoding of a lossless reference capture is compared
 * with it by ffmpeg's `ssim` filter, and its encoder CPU is ffmpeg's own `-benchmark` time less the decoding.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The part of the screen compared: where the text is, not the empty desktop around it. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Ssim {
  frames: number;
  /** Luma SSIM, mean and worst frame: what the legibility of text depends on. */
  meanY: number;
  minY: number;
  /** Luma and chroma together, as the filter weighs them. */
  meanAll: number;
}

/** Runs ffmpeg and returns its log (stderr); throws with the log's tail when it fails. */
export function runFfmpeg(args: string[]): string {
  const run = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-y', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed:\n${run.stderr.slice(-2000)}`);
  return run.stderr;
}

/** CPU seconds (user + system) ffmpeg spent on `args`, as its `-benchmark` reports them. */
export function ffmpegCpuSeconds(args: string[]): number {
  const log = runFfmpeg(['-benchmark', ...args]);
  const match = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(log);
  if (!match) throw new Error(`no benchmark line from ffmpeg ${args.join(' ')}`);
  return Number(match[1]) + Number(match[2]);
}

/**
 * SSIM of `input` (ffmpeg input arguments: a WebM, or a JPEG sequence) against the lossless `reference`, frame
 * by frame in order, over `region`. Both are compared as 4:4:4, so 4:2:0 chroma counts against an encoding.
 */
export function ssimAgainst(input: string[], reference: string, region: Region, statsFile: string): Ssim {
  // Frame n against frame n, whatever their timestamps; `shortest` so a missing frame is not a repeated one.
  const prepare = `settb=1,setpts=N,format=yuv444p,crop=${region.width}:${region.height}:${region.x}:${region.y}`;
  runFfmpeg([
    ...input,
    '-i',
    reference,
    '-lavfi',
    `[0:v]${prepare}[a];[1:v]${prepare}[b];[a][b]ssim=shortest=1:stats_file=${statsFile}`,
    '-f',
    'null',
    '-',
  ]);
  const frames = readFileSync(statsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const value = (key: string) => Number(new RegExp(`\\b${key}:([\\d.]+)`).exec(line)?.[1]);
      return { y: value('Y'), all: value('All') };
    });
  if (frames.length === 0 || frames.some((f) => !Number.isFinite(f.y) || !Number.isFinite(f.all))) {
    throw new Error(`cannot read SSIM from ${statsFile}`);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    frames: frames.length,
    meanY: mean(frames.map((f) => f.y)),
    minY: Math.min(...frames.map((f) => f.y)),
    meanAll: mean(frames.map((f) => f.all)),
  };
}
