/**
 * `witness-processor`'s conversion speed, as a multiple of real time, for a long 1080p recording, beside plain
 * `ffmpeg -i rec.webm -c:v libx264 …` (the same encoder settings, file to file) on the same file in the same run;
 * and the processor's peak memory (its Node process and its ffmpeg, sampled from /proc). The processor runs as
 * it does in production (the real CLI, its Range reads, its part uploads) against a small Witness stand-in on
 * loopback that serves one job and keeps the parts, so what is measured is the processor, not a Worker.
 *
 *   node bench/processor.ts [--minutes 30] [--fps 1] [--rounds 2] [--summary FILE]
 *
 * Goal: the processor at least 0.9× as fast as plain ffmpeg (docs/benchmarks.md, "MP4 processing").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encoderArgs } from '../agents/launcher/src/ffmpeg.ts';
import { conversionArgs } from '../agents/processor/src/ffmpeg.ts';
import { PART_BYTES } from '../protocol/processing.ts';
import { bytes, table } from './lib/stats.ts';
import { verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    fps: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    summary: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const fps = Number(values.fps);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-processor-'));
const SESSION = '00000000-0000-4000-8000-000000000001';
const LEASE = '00000000-0000-4000-8000-0000000000aa';

/** Peak resident memory (VmHWM) of a process, from /proc, or 0 when it is gone. */
function peakRss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pids of a process's children (its ffmpeg). */
function childrenOf(pid: number | undefined): number[] {
  if (!pid) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function ffprobeDuration(file: string): number {
  return Number(
    String(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file])).trim(),
  );
}

try {
  // A long 1080p recording, encoded as the launcher encodes a screen (VP9, realtime, a Cluster a second).
  const source = path.join(dir, 'recording.webm');
  const recordStart = performance.now();
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=${fps}`],
    ...['-t', String(minutes * 60), '-pix_fmt', 'yuv420p', ...encoderArgs('vp9', fps)],
    ...['-f', 'webm', '-cluster_time_limit', '1000', source],
  ]);
  const sourceBytes = statSync(source).size;
  const mediaSeconds = ffprobeDuration(source);
  console.log(
    `recorded ${mediaSeconds.toFixed(0)} s of 1080p at ${fps} fps (${bytes(sourceBytes)}) in ${((performance.now() - recordStart) / 1000).toFixed(0)} s`,
  );
  const sha256 = createHash('sha256').update(readFileSync(source)).digest('hex');

  /** Plain ffmpeg, file to file, with the processor's encoder settings. */
  async function runPlain(): Promise<{ seconds: number; peak: number }> {
    const plain = path.join(dir, 'plain.mp4');
    const args = conversionArgs('h264', plain);
    const plainArgs = args.map((a) => (a === 'pipe:0' ? source : a)).filter((a) => a !== '-progress' && a !== 'pipe:1');
    const baselineStart = performance.now();
    const baseline = spawn('ffmpeg', plainArgs, { stdio: 'ignore' });
    let baselinePeak = 0;
    const baselineSampler = setInterval(() => {
      baselinePeak = Math.max(baselinePeak, peakRss(baseline.pid));
    }, 100);
    await new Promise((resolve) => baseline.once('exit', resolve));
    clearInterval(baselineSampler);
    const baselineSeconds = (performance.now() - baselineStart) / 1000;
    return { seconds: baselineSeconds, peak: baselinePeak };
  }

  /** The processor, against a stand-in that serves one job. */
  async function runProcessor(): Promise<{ seconds: number; nodePeak: number; ffmpegPeak: number }> {
    let leased = false;
    let completedAt = 0;
    let leasedAt = 0;
    let failure: string | null = null;
    const out = path.join(dir, 'processor.mp4');
    const outFd = openSync(out, 'w');
    const json = (res: ServerResponse, status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const body = async (req: IncomingMessage) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    const server = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      if (p === '/api/v1/processing/lease') {
        await body(req);
        if (leased) return res.writeHead(204).end();
        leased = true;
        leasedAt = performance.now();
        return json(res, 200, {
          sessionId: SESSION,
          leaseId: LEASE,
          leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
          attempt: 1,
          codec: 'h264',
          source: {
            url: `/api/v1/processing/jobs/${SESSION}/source.webm`,
            size: sourceBytes,
            sha256,
            mediaDurationMs: Math.round(mediaSeconds * 1000),
          },
          partBytes: PART_BYTES,
        });
      }
      if (p.endsWith('/source.webm')) {
        const [, from, to] = (req.headers.range ?? '').match(/bytes=(\d+)-(\d+)/) ?? [];
        const start = Number(from);
        const end = Number(to);
        res.writeHead(206, { 'content-length': String(end - start + 1), 'content-type': 'video/webm' });
        return createReadStream(source, { start, end }).pipe(res);
      }
      if (p.endsWith('/progress'))
        return json(res, 200, { leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() });
      if (p.endsWith('/upload')) return json(res, 201, { partBytes: PART_BYTES });
      const part = p.match(/\/parts\/(\d+)$/);
      if (part) {
        const bytesOfPart = await body(req);
        writeSync(outFd, bytesOfPart, 0, bytesOfPart.byteLength, (Number(part[1]) - 1) * PART_BYTES);
        return json(res, 200, { part: Number(part[1]), size: bytesOfPart.byteLength });
      }
      if (p.endsWith('/complete')) {
        completedAt = performance.now();
        return json(res, 200, { processing: { sha256: null, bytes: statSync(out).size } });
      }
      if (p.endsWith('/failure')) {
        failure = (await body(req)).toString();
        return json(res, 200, { processing: null });
      }
      return json(res, 404, { error: { code: 'not_found', message: p } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const processor: ChildProcess = spawn(
      process.execPath,
      [
        path.join(root, 'agents/processor/bin/witness-processor.mjs'),
        '--server',
        `http://127.0.0.1:${port}`,
        '--poll-seconds',
        '1',
        '--work-dir',
        dir,
      ],
      { env: { ...process.env, WITNESS_API_KEY: 'bench' }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    let nodePeak = 0;
    let ffmpegPeak = 0;
    const sampler = setInterval(() => {
      nodePeak = Math.max(nodePeak, peakRss(processor.pid));
      for (const child of childrenOf(processor.pid)) ffmpegPeak = Math.max(ffmpegPeak, peakRss(child));
    }, 100);
    while (completedAt === 0 && failure === null && processor.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    clearInterval(sampler);
    processor.kill('SIGTERM');
    server.close();
    if (failure) throw new Error(`the processor failed: ${failure}`);
    const processorSeconds = (completedAt - leasedAt) / 1000;
    return { seconds: processorSeconds, nodePeak, ffmpegPeak };
  }

  // Alternating rounds on the same file, the fastest of each kept: the machine's other load comes and goes.
  const plainRuns: Array<{ seconds: number; peak: number }> = [];
  const processorRuns: Array<{ seconds: number; nodePeak: number; ffmpegPeak: number }> = [];
  for (let round = 0; round < rounds; round++) {
    plainRuns.push(await runPlain());
    processorRuns.push(await runProcessor());
    console.log(
      `round ${round + 1}: plain ${plainRuns.at(-1)?.seconds.toFixed(1)} s, processor ${processorRuns.at(-1)?.seconds.toFixed(1)} s`,
    );
  }
  const baselineSeconds = Math.min(...plainRuns.map((r) => r.seconds));
  const baselinePeak = Math.max(...plainRuns.map((r) => r.peak));
  const processorSeconds = Math.min(...processorRuns.map((r) => r.seconds));
  const nodePeak = Math.max(...processorRuns.map((r) => r.nodePeak));
  const ffmpegPeak = Math.max(...processorRuns.map((r) => r.ffmpegPeak));
  const plain = path.join(dir, 'plain.mp4');
  const out = path.join(dir, 'processor.mp4');
  // Same encoder, same input: the outputs' lengths agree (the bytes may differ by ffmpeg's input-path metadata).
  const lengths = [ffprobeDuration(plain), ffprobeDuration(out)];

  const plainSpeed = mediaSeconds / baselineSeconds;
  const processorSpeed = mediaSeconds / processorSeconds;
  const ratio = processorSpeed / plainSpeed;
  console.log(
    table([
      ['', 'wall time', 'speed (× real time)', 'peak memory'],
      ['plain ffmpeg (file → file)', `${baselineSeconds.toFixed(1)} s`, plainSpeed.toFixed(1), bytes(baselinePeak)],
      [
        'witness-processor (Range reads → ffmpeg → part uploads)',
        `${processorSeconds.toFixed(1)} s`,
        processorSpeed.toFixed(1),
        `node ${bytes(nodePeak)}, ffmpeg ${bytes(ffmpegPeak)}`,
      ],
    ]),
  );
  console.log(
    `processor / plain: ${ratio.toFixed(2)}× (goal ≥ 0.9×: ${verdict(ratio >= 0.9)}); MP4 ${bytes(statSync(out).size)}, lengths ${lengths.map((l) => l.toFixed(1)).join(' / ')} s`,
  );
  writeSummary(values.summary, {
    bench: 'processor',
    rows: [
      {
        figure: 'MP4 conversion speed, processor / plain ffmpeg',
        witness: `${ratio.toFixed(2)}× (${processorSpeed.toFixed(1)}× real time)`,
        baseline: `plain ffmpeg ${plainSpeed.toFixed(1)}× real time`,
        goal: '≥ 0.9×',
        met: ratio >= 0.9,
      },
    ],
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
