/**
 * Bytes per hour of recording: an Xvfb desktop (1920x1080) with a terminal workload (top refreshing, a shell
 * where xdotool types commands and scrolls), captured at the same time as (a) WebM exactly as the launcher
 * encodes it (agents/launcher/src/ffmpeg.ts), (b) one JPEG a second, which is roughly what screenshot-based
 * session recording stores, and (c) a lossless reference (FFV1). Sizes are scaled to an hour from the frames
 * each capture holds. Then the reference is encoded again both ways, so that both encodings hold the same
 * frames: their SSIM against it (over the terminals, where the text is) and their encoder CPU per frame.
 *
 *   node bench/bytes-per-hour.ts [--seconds 120] [--variants] [--keep DIR] [--summary FILE]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Codec, DEFAULT_CODEC, DEFAULT_FPS } from '../agents/launcher/src/args.ts';
import { ffmpegArgs, inputArgs } from '../agents/launcher/src/ffmpeg.ts';
import { cpuBetween, percentOfCore, snapshotTree, warnIfMachineBusy } from './lib/cpu.ts';
import { ffmpegCpuSeconds, type Region, type Ssim, ssimAgainst } from './lib/screen-quality.ts';
import { bytes, sleep, table } from './lib/stats.ts';
import { verdict, writeSummary } from './lib/summary.ts';

const USAGE = `Usage: node bench/bytes-per-hour.ts [options]
  --seconds N     how long the scripted terminal session is captured (default 120)
  --variants      also encode the same frames with a few other settings, for information
  --keep DIR      keep the WebM files, the last JPEG and the lossless reference in DIR
  --summary FILE  write the figures as JSON (bench/run.ts reads it)`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    seconds: { type: 'string', default: '120' },
    summary: { type: 'string' },
    /** Keep the WebM files, the last JPEG and the reference here, to look at what was measured. */
    keep: { type: 'string' },
    /** Also encode the reference with a few settings beside the launcher's, for information. */
    variants: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const SIZE = { width: 1920, height: 1080 };
/** ffmpeg's mjpeg qscale (2 best … 31 worst). */
const JPEG_QSCALE = 5;
const GOAL_RATIO = 5;
/** Luma SSIM that the worst frame of the launcher's WebM must keep over the terminals: text stays legible. */
const MIN_TEXT_SSIM = 0.95;

/** Commands typed into the shell: read-only, with screenfuls of output, as an admin's session has. */
const COMMANDS = [
  'uname -a',
  'ls -la /usr/bin | head -60',
  'ps aux --sort=-%cpu | head -30',
  'df -h',
  'cat /etc/services | head -80',
  'free -m',
  'find /usr/share/doc -maxdepth 1 | head -50',
  'env | sort | head -20',
  'ls -la /etc | tail -40',
  'cat /proc/cpuinfo | grep -m4 -i model',
  'uptime',
  'ss -tln',
];

const children: ChildProcess[] = [];
const killAll = () => {
  for (const child of children) {
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

function start(command: string, args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore') {
  const child = spawn(command, args, { env, cwd: work, stdio: [stdin, 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  children.push(child);
  return { child, stderr: () => stderr };
}

function freeDisplay(): number {
  for (let n = 90; n < 300; n++) if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  throw new Error('no free X display');
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function xdotool(env: NodeJS.ProcessEnv, ...args: string[]): void {
  execFileSync('xdotool', args, { env, stdio: 'ignore', timeout: 60_000 });
}

/** Asks ffmpeg to finish ('q'), killing it if it does not within 15 s. */
async function stopFfmpeg(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end('q');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** Estimates the IJG (libjpeg) quality whose luminance table matches the file's, from the tables' sums. */
function jpegQuality(file: string): number | null {
  const data = readFileSync(file);
  const standardSum = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
  ].reduce((a, b) => a + b, 0);
  for (let at = 2; at + 4 < data.length; ) {
    if (data[at] !== 0xff) return null;
    const marker = data[at + 1] as number;
    const length = data.readUInt16BE(at + 2);
    if (marker === 0xdb && ((data[at + 4] as number) & 0xf0) === 0) {
      let sum = 0;
      for (let i = 0; i < 64; i++) sum += data[at + 5 + i] as number;
      const scale = (100 * sum) / standardSum;
      return Math.round(scale <= 100 ? (200 - scale) / 2 : 5000 / scale);
    }
    at += 2 + length;
  }
  return null;
}

function probe(file: string, entries: string): string {
  return execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', ...entries.split(' '), '-of', 'csv=p=0', file],
    {
      encoding: 'utf8',
    },
  ).trim();
}

interface CaptureSpec {
  name: string;
  kind: 'webm' | 'jpeg' | 'reference';
  /** ffmpeg arguments without the output. */
  args: string[];
}

interface Measured {
  frames: number;
  bytes: number;
  perHour: number;
  format: string;
  note: string;
  /** A file to keep: the last JPEG. */
  sample: string;
}

/** Copy of `args` with the value after `flag` replaced. */
function withValue(args: string[], flag: string, value: string): string[] {
  const at = args.indexOf(flag);
  if (at < 0) throw new Error(`the launcher's ffmpeg arguments have no ${flag}`);
  return args.map((a, i) => (i === at + 1 ? value : a));
}

function outputFile(spec: CaptureSpec, output: string): string {
  if (spec.kind === 'jpeg') return path.join(output, 'img%05d.jpg');
  return spec.kind === 'webm' ? `${output}.webm` : `${output}.mkv`;
}

/** Sizes a finished capture; an hour's worth is scaled from the frames it holds (1 frame a second). */
function measureCapture(spec: CaptureSpec, output: string, stderr: () => string): Measured {
  if (spec.kind !== 'jpeg') {
    const file = outputFile(spec, output);
    if (!existsSync(file)) throw new Error(`${spec.name}: ffmpeg wrote nothing:\n${stderr()}`);
    const size = statSync(file).size;
    const packets = probe(file, '-show_entries packet=size,flags')
      .split('\n')
      .map((line) => line.split(','));
    const keys = packets.filter(([, flags]) => flags?.startsWith('K'));
    const keyBytes = keys.reduce((a, [bytesText]) => a + Number(bytesText), 0);
    return {
      frames: packets.length,
      bytes: size,
      perHour: (size * 3600 * DEFAULT_FPS) / packets.length,
      format: probe(file, '-show_entries stream=codec_name,pix_fmt').replace(',', ' '),
      note: `${keys.length} of ${packets.length} frames and ${((100 * keyBytes) / size).toFixed(0)} % of the bytes`,
      sample: file,
    };
  }
  const files = readdirSync(output)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  if (files.length === 0) throw new Error(`${spec.name}: ffmpeg wrote nothing:\n${stderr()}`);
  const size = files.reduce((a, f) => a + statSync(path.join(output, f)).size, 0);
  const sample = path.join(output, files.at(-1) as string);
  return {
    frames: files.length,
    bytes: size,
    perHour: (size * 3600) / files.length,
    format: `${probe(sample, '-show_entries stream=pix_fmt')}, ≈ IJG quality ${jpegQuality(sample) ?? '?'}`,
    note: '',
    sample,
  };
}

/** The launcher's whole ffmpeg command line for `codec`, with its input and its `pipe:1` output. */
function launcherCommand(codec: Codec, display: string, env: NodeJS.ProcessEnv): string[] {
  const settings = { source: 'x11', display, fps: DEFAULT_FPS, codec } as const;
  const args = ffmpegArgs(settings, env);
  const input = inputArgs(settings, env);
  if (args.at(-1) !== 'pipe:1' || args.indexOf(display) !== args.indexOf('-i') + 1 || input.at(-1) !== display) {
    throw new Error("the launcher's ffmpeg command line has changed shape; update this bench");
  }
  return args;
}

function jpegOutput(qscale: number): string[] {
  return ['-f', 'image2', '-q:v', String(qscale)];
}

/** The box around the two terminals, where the text is (the rest of the screen is empty desktop). */
function terminalsRegion(env: NodeJS.ProcessEnv): Region {
  const boxes = ['bench-top', 'bench-shell'].map((name) => {
    const shell = execFileSync('xdotool', ['search', '--name', name, 'getwindowgeometry', '--shell'], {
      env,
      encoding: 'utf8',
    });
    const value = (key: string) => Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(shell)?.[1]);
    return { x: value('X'), y: value('Y'), right: value('X') + value('WIDTH'), bottom: value('Y') + value('HEIGHT') };
  });
  if (boxes.some((b) => Object.values(b).some((v) => !Number.isFinite(v)))) throw new Error('no terminal geometry');
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  const right = Math.min(SIZE.width, Math.max(...boxes.map((b) => b.right)));
  const bottom = Math.min(SIZE.height, Math.max(...boxes.map((b) => b.bottom)));
  return { x, y, width: right - x, height: bottom - y };
}

/** One way of encoding the reference's frames again. */
interface Encoding {
  name: string;
  kind: 'webm' | 'jpeg';
  /** ffmpeg arguments after the input, without the output file. */
  output: string[];
}

interface Encoded {
  encoding: Encoding;
  frames: number;
  perHour: number;
  ssim: Ssim;
  /** CPU of the encoding run less that of decoding the reference alone. */
  cpuMsPerFrame: number;
}

function encodeReference(
  encoding: Encoding,
  reference: string,
  output: string,
  region: Region,
  decodeCpuSeconds: number,
): Encoded {
  const target = encoding.kind === 'webm' ? `${output}.webm` : path.join(output, 'img%05d.jpg');
  if (encoding.kind === 'jpeg') mkdirSync(output);
  const cpu = ffmpegCpuSeconds(['-i', reference, ...encoding.output, target]);
  let size: number;
  let frames: number;
  if (encoding.kind === 'webm') {
    size = statSync(target).size;
    frames = probe(target, '-count_packets -show_entries stream=nb_read_packets').split('\n').map(Number)[0] as number;
  } else {
    const files = readdirSync(output).filter((f) => f.endsWith('.jpg'));
    size = files.reduce((a, f) => a + statSync(path.join(output, f)).size, 0);
    frames = files.length;
  }
  const input = encoding.kind === 'webm' ? ['-i', target] : ['-framerate', '1', '-i', target];
  return {
    encoding,
    frames,
    perHour: (size * 3600 * DEFAULT_FPS) / frames,
    ssim: ssimAgainst(input, reference, region, `${output}.ssim.log`),
    cpuMsPerFrame: ((cpu - decodeCpuSeconds) * 1000) / frames,
  };
}

await warnIfMachineBusy();
const work = mkdtempSync(path.join(tmpdir(), 'witness-bench-bytes-'));
try {
  const display = `:${freeDisplay()}`;
  start('Xvfb', [display, '-screen', '0', `${SIZE.width}x${SIZE.height}x24`, '-nolisten', 'tcp'], process.env);
  await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), 20_000);
  const env = {
    ...process.env,
    DISPLAY: display,
    HOME: work,
    HISTFILE: '/dev/null',
    PS1: 'admin@db-01:\\w$ ',
    TERM: 'xterm',
  };
  // No window manager: windows sit where -geometry puts them, keyboard focus follows the pointer.
  start('xterm', ['-T', 'bench-top', '-geometry', '200x30+0+0', '-e', 'top', '-d', '1'], env);
  start(
    'xterm',
    [
      '-T',
      'bench-shell',
      '-sb',
      '-sl',
      '5000',
      '-geometry',
      '200x42+0+420',
      '-e',
      'bash',
      '--norc',
      '--noprofile',
      '-i',
    ],
    env,
  );
  xdotool(env, 'search', '--sync', '--name', 'bench-shell');
  xdotool(env, 'search', '--sync', '--name', 'bench-top');
  await sleep(1000);

  const launcherInput = launcherCommand(DEFAULT_CODEC, display, env).slice(0, -1);
  const jpegInput = ['-hide_banner', '-loglevel', 'error', '-f', 'x11grab', '-framerate', '1', '-i', display];
  const captures: CaptureSpec[] = [
    { name: `WebM: the launcher (${DEFAULT_CODEC})`, kind: 'webm', args: launcherInput },
    { name: `JPEG a second, -q:v ${JPEG_QSCALE}`, kind: 'jpeg', args: [...jpegInput, ...jpegOutput(JPEG_QSCALE)] },
    { name: 'lossless reference (FFV1)', kind: 'reference', args: [...jpegInput, '-c:v', 'ffv1', '-f', 'matroska'] },
  ];
  const running = captures.map((spec, i) => {
    const output = path.join(work, `capture-${i}`);
    if (spec.kind === 'jpeg') mkdirSync(output);
    const ffmpeg = start('ffmpeg', ['-y', ...spec.args, outputFile(spec, output)], env, 'pipe');
    return { spec, output, ffmpeg, cpuBefore: snapshotTree(ffmpeg.child.pid as number) };
  });
  console.log(`bytes per hour: ${SIZE.width}x${SIZE.height} Xvfb ${display}, terminal workload for ${SECONDS} s`);
  for (const { spec } of running) console.log(`  ${spec.name}:\n    ffmpeg ${spec.args.join(' ')} OUTPUT`);

  // The session: type a command, let it print, now and then scroll back through the output and return.
  const deadline = Date.now() + SECONDS * 1000;
  let typed = 0;
  while (Date.now() < deadline) {
    xdotool(env, 'mousemove', '600', '700');
    xdotool(env, 'type', '--delay', '70', COMMANDS[typed % COMMANDS.length] as string);
    xdotool(env, 'key', 'Return');
    typed++;
    await sleep(Math.min(1500, deadline - Date.now()));
    if (typed % 3 === 0 && Date.now() < deadline) {
      xdotool(env, 'click', '--repeat', '8', '--delay', '150', '4');
      xdotool(env, 'click', '--repeat', '8', '--delay', '150', '5');
    }
  }
  const cpuSeconds = running.map((r) => cpuBetween(r.cpuBefore, snapshotTree(r.ffmpeg.child.pid as number)).seconds);
  const region = terminalsRegion(env);
  await Promise.all(running.map((r) => stopFfmpeg(r.ffmpeg.child)));

  const results = running.map((r, i) => ({
    ...r,
    measured: measureCapture(r.spec, r.output, r.ffmpeg.stderr),
    cpu: cpuSeconds[i] as number,
  }));
  const find = (kind: CaptureSpec['kind']) => {
    const found = results.find((r) => r.spec.kind === kind);
    if (!found) throw new Error(`the ${kind} capture is missing`);
    return found;
  };
  const reference = find('reference').measured.sample;
  if (values.keep) {
    mkdirSync(values.keep, { recursive: true });
    for (const [i, r] of results.entries()) {
      const name = r.spec.kind === 'jpeg' ? `capture-${i}-last.jpg` : path.basename(r.measured.sample);
      copyFileSync(r.measured.sample, path.join(values.keep, name));
    }
  }

  console.log(
    `\n${typed} commands typed; live captures, each from its own x11grab\n${table([
      ['capture', 'format', 'frames', 'bytes', 'per frame', 'bytes/hour', 'ffmpeg CPU (of one core)'],
      ...results.map((r) => [
        r.spec.name,
        r.measured.format,
        String(r.measured.frames),
        bytes(r.measured.bytes),
        bytes(r.measured.bytes / r.measured.frames),
        bytes(r.measured.perHour),
        percentOfCore(r.cpu, SECONDS),
      ]),
    ])}`,
  );
  for (const r of results.filter((r) => r.spec.kind === 'webm')) {
    console.log(`${r.spec.name}: keyframes are ${r.measured.note}`);
  }

  // The same frames encoded both ways (and, with --variants, other ways): quality and encoder cost.
  const launcherOutput = launcherInput.slice(launcherInput.indexOf(display) + 1);
  const encodings: Encoding[] = [
    { name: `WebM: the launcher (${DEFAULT_CODEC})`, kind: 'webm', output: launcherOutput },
    {
      name: `JPEG, -q:v ${JPEG_QSCALE}`,
      kind: 'jpeg',
      output: ['-fps_mode', 'passthrough', ...jpegOutput(JPEG_QSCALE)],
    },
  ];
  if (values.variants) {
    const g = (seconds: number) => String(seconds * DEFAULT_FPS);
    encodings.push(
      {
        name: 'WebM: previous defaults (speed 8, CRF 36, keyframe every 10 s)',
        kind: 'webm',
        output: withValue(withValue(withValue(launcherOutput, '-cpu-used', '8'), '-crf', '36'), '-g', g(10)),
      },
      { name: 'WebM: launcher, keyframe every 10 s', kind: 'webm', output: withValue(launcherOutput, '-g', g(10)) },
      { name: 'WebM: launcher, keyframe every 60 s', kind: 'webm', output: withValue(launcherOutput, '-g', g(60)) },
      { name: 'WebM: launcher, -cpu-used 8', kind: 'webm', output: withValue(launcherOutput, '-cpu-used', '8') },
      { name: 'WebM: launcher, -cpu-used 5', kind: 'webm', output: withValue(launcherOutput, '-cpu-used', '5') },
      { name: 'WebM: launcher, -crf 44', kind: 'webm', output: withValue(launcherOutput, '-crf', '44') },
      {
        name: 'WebM: launcher, -tile-columns 2 (libvpx default at 1080p)',
        kind: 'webm',
        output: withValue(launcherOutput, '-tile-columns', '2'),
      },
      {
        name: 'WebM: launcher --codec vp8',
        kind: 'webm',
        output: launcherCommand('vp8', display, env).slice(launcherInput.indexOf(display) + 1, -1),
      },
      { name: 'JPEG, -q:v 2', kind: 'jpeg', output: ['-fps_mode', 'passthrough', ...jpegOutput(2)] },
      {
        name: `JPEG, -q:v ${JPEG_QSCALE}, 4:2:0 chroma`,
        kind: 'jpeg',
        output: ['-fps_mode', 'passthrough', '-pix_fmt', 'yuvj420p', ...jpegOutput(JPEG_QSCALE)],
      },
    );
  }
  const decodeCpu = ffmpegCpuSeconds(['-i', reference, '-f', 'null', '-']);
  const encoded = encodings.map((encoding, i) =>
    encodeReference(encoding, reference, path.join(work, `encoding-${i}`), region, decodeCpu),
  );
  const [webmSame, jpegSame] = encoded as [Encoded, Encoded];
  console.log(
    `\nthe reference's ${find('reference').measured.frames} frames encoded again; SSIM over the terminals ` +
      `(${region.width}x${region.height}+${region.x}+${region.y}) against the reference\n${table([
        ['encoding', 'frames', 'bytes/hour', 'JPEG / it', 'SSIM Y mean', 'SSIM Y worst', 'SSIM all', 'encoder CPU'],
        ...encoded.map((e) => [
          e.encoding.name,
          String(e.frames),
          bytes(e.perHour),
          `${(jpegSame.perHour / e.perHour).toFixed(1)}×`,
          e.ssim.meanY.toFixed(4),
          e.ssim.minY.toFixed(4),
          e.ssim.meanAll.toFixed(4),
          `${e.cpuMsPerFrame.toFixed(0)} ms a frame`,
        ]),
      ])}`,
  );

  const webm = find('webm');
  const jpeg = find('jpeg');
  const ratio = jpeg.measured.perHour / webm.measured.perHour;
  const legible = webmSame.ssim.minY >= MIN_TEXT_SSIM;
  const encoderCpu = percentOfCore(webm.cpu, SECONDS);
  console.log(
    `goal: WebM ≥ ${GOAL_RATIO}× smaller than JPEG screenshots: ${ratio.toFixed(1)}× — ${verdict(ratio >= GOAL_RATIO)}` +
      ` (same frames: ${(jpegSame.perHour / webmSame.perHour).toFixed(1)}×)\n` +
      `quality: text SSIM (luma, worst frame) ≥ ${MIN_TEXT_SSIM}: WebM ${webmSame.ssim.minY.toFixed(4)} ` +
      `(mean ${webmSame.ssim.meanY.toFixed(4)}), JPEG ${jpegSame.ssim.minY.toFixed(4)} ` +
      `(mean ${jpegSame.ssim.meanY.toFixed(4)}) — ${verdict(legible)}\n` +
      `encoder CPU while recording: ${encoderCpu} of one core ` +
      `(${webm.measured.frames} frames in ${SECONDS} s: ${verdict(webm.measured.frames >= SECONDS - 2)} real time)`,
  );
  writeSummary(values.summary, {
    bench: 'bytes-per-hour',
    rows: [
      {
        figure: `bytes/hour, 1920x1080 terminal desktop (${SECONDS} s)`,
        witness: bytes(webm.measured.perHour),
        baseline: `${bytes(jpeg.measured.perHour)} (JPEG/s)`,
        goal: `≥ ${GOAL_RATIO}× smaller`,
        met: ratio >= GOAL_RATIO,
      },
      { figure: 'ratio JPEG / WebM', witness: `${ratio.toFixed(1)}×`, baseline: '', goal: '', met: null },
      {
        figure: 'text SSIM (luma, worst frame)',
        witness: webmSame.ssim.minY.toFixed(4),
        baseline: `${jpegSame.ssim.minY.toFixed(4)} (JPEG)`,
        goal: `≥ ${MIN_TEXT_SSIM}`,
        met: legible,
      },
      {
        figure: 'encoder CPU while recording',
        witness: encoderCpu,
        baseline: `${percentOfCore(jpeg.cpu, SECONDS)} (JPEG)`,
        goal: '',
        met: null,
      },
    ],
  });
} finally {
  killAll();
  rmSync(work, { recursive: true, force: true });
}
