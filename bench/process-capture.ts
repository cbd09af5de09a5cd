/**
 * What process capture costs the user's machine: the CPU of the capture (the launcher's Node, plus the helper
 * for `netlink`) at idle and with 100 process starts a second, by the kernel's process events and by polling
 * /proc every 50 ms, beside Node doing nothing (no capture), in the same run. The starts are in the session
 * (WITNESS_SESSION set), so each is also reported; how many were is printed beside how many ran.
 *
 *   node bench/process-capture.ts [--seconds 20] [--rate 100] [--summary FILE]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildProcEvents } from '../agents/launcher/native/build.ts';
import { cpuBetween, percentOfCore, snapshotTree, warnIfMachineBusy } from './lib/cpu.ts';
import { table } from './lib/stats.ts';
import { writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' },
    summary: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const SESSION = `bench-${process.pid}`;
const CHILD = new URL('./lib/process-capture-child.ts', import.meta.url).pathname;

if (!buildProcEvents().path) throw new Error('the helper cannot be built here (no C compiler?)');

function startCapture(
  method: string,
): Promise<{ child: ChildProcess; events: Promise<{ named: number; unread: number }> }> {
  const child = spawn(process.execPath, [CHILD, method, SESSION], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let events: (n: { named: number; unread: number }) => void = () => {};
  const counted = new Promise<{ named: number; unread: number }>((resolve) => {
    events = resolve;
  });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') resolve({ child, events: counted });
      const match = /^events (\d+) (\d+)$/.exec(line);
      if (match) events({ named: Number(match[1]), unread: Number(match[2]) });
    });
    child.once('exit', (code) => reject(new Error(`${method} capture exited with ${code}`)));
  });
}

/**
 * `rate` starts a second of /bin/true from a program in the session (WITNESS_SESSION in its environment, as the
 * recorded program's children have it); not measured: it is the load. Says how many it started on SIGTERM.
 */
function startLoad(rate: number): { stop: () => Promise<number> } {
  const script = `let n = 0;
const t = setInterval(() => require('node:child_process').spawn('/bin/true', [], { stdio: 'ignore' }).once('spawn', () => n++), ${1000 / rate});
process.once('SIGTERM', () => { clearInterval(t); setTimeout(() => { console.log(n); process.exit(0); }, 200); });`;
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WITNESS_SESSION: SESSION },
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk));
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(Number(out.trim()))));
  return {
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function measure(method: string, load: boolean) {
  const { child, events } = await startCapture(method);
  const loader = load ? startLoad(RATE) : null;
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // settle
  const before = snapshotTree(child.pid as number);
  const startedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const after = snapshotTree(child.pid as number);
  const wall = (Date.now() - startedAt) / 1000;
  const ran = (await loader?.stop()) ?? 0;
  child.kill('SIGTERM');
  const { named, unread } = await events;
  const seen = named + unread;
  return { method, load, cpu: cpuBetween(before, after).seconds, wall, ran, seen, unread };
}

await warnIfMachineBusy();
const rows: Array<Awaited<ReturnType<typeof measure>>> = [];
const cell = (r: Awaited<ReturnType<typeof measure>>) => `${((100 * r.cpu) / r.wall).toFixed(1)} %`;
const seen = (r: Awaited<ReturnType<typeof measure>>) =>
  r.method === 'none'
    ? '—'
    : `${r.seen} of ${r.ran}${r.unread ? ` (${r.unread} ended before they could be read)` : ''}`;
for (const load of [false, true]) {
  for (const method of ['none', 'netlink', 'poll']) {
    const result = await measure(method, load);
    rows.push(result);
    console.log(
      `${method.padEnd(8)} ${load ? `${RATE}/s` : 'idle'}: ${percentOfCore(result.cpu, result.wall)} of a core, ${seen(result)} starts seen`,
    );
  }
}

const find = (method: string, load: boolean) =>
  rows.find((r) => r.method === method && r.load === load) as (typeof rows)[number];
console.log(
  `\n${table([
    ['capture', 'idle (CPU of one core)', `${RATE} starts/s`, 'starts seen'],
    ...['none', 'netlink', 'poll'].map((m) => [m, cell(find(m, false)), cell(find(m, true)), seen(find(m, true))]),
  ])}`,
);
writeSummary(values.summary, {
  bench: 'process-capture',
  rows: ['netlink', 'poll'].flatMap((m) => [
    {
      figure: `process capture (${m}), idle`,
      witness: cell(find(m, false)),
      baseline: `${cell(find('none', false))} (no capture)`,
      goal: '',
      met: null,
    },
    {
      figure: `process capture (${m}), ${RATE} starts/s`,
      witness: `${cell(find(m, true))} (${seen(find(m, true))} starts seen)`,
      baseline: `${cell(find('none', true))} (no capture)`,
      goal: '',
      met: null,
    },
  ]),
});
