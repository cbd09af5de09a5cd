/**
 * `npm run bench`: the recording-pipeline and console benchmarks in turn with modest durations, then one table
 * of every figure beside its baseline. Each benchmark starts and stops its own servers; see docs/benchmarks.md
 * for full runs.
 *
 *   node bench/run.ts [--only live-latency,sustained-sessions,bytes-per-hour,socket-flood,console-bundle,…]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { table } from './lib/stats.ts';
import { type BenchSummary, verdict } from './lib/summary.ts';

const BENCHES: Array<{ name: string; args: string[] }> = [
  { name: 'live-latency', args: ['--sessions', '20', '--viewers', '3', '--seconds', '30'] },
  { name: 'sustained-sessions', args: ['--sessions', '100', '--seconds', '30'] },
  { name: 'bytes-per-hour', args: ['--seconds', '60'] },
  { name: 'socket-flood', args: ['--sessions', '20', '--seconds', '20', '--rounds', '2'] },
  // What capturing every process costs the user's machine (docs/benchmarks.md, "Process capture").
  { name: 'process-capture', args: ['--seconds', '10'] },
  // The console's quality goals (docs/benchmarks.md, "Console").
  { name: 'console-bundle', args: [] },
  { name: 'console-map', args: ['--renders', '20'] },
  { name: 'console-session-list', args: ['--requests', '100'] },
  // MP4 conversion by witness-processor beside plain ffmpeg (docs/benchmarks.md, "MP4 processing").
  { name: 'processor', args: ['--minutes', '10'] },
];

const USAGE = `Usage: node bench/run.ts [--only live-latency,sustained-sessions,bytes-per-hour,socket-flood,console-bundle,
  console-map,console-session-list,process-capture,processor]
Runs the recording-pipeline and console benchmarks in turn with modest durations and prints one summary table.
Environment: WITNESS_BENCH_SERVER_ROOT=DIR measures the checkout in DIR (a frozen copy of a commit) instead
of this one; WITNESS_BENCH_SERVER_LOG=FILE keeps everything the servers print.`;

const { values } = parseArgs({
  options: { only: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const only = values.only?.split(',');
const selected = BENCHES.filter((b) => !only || only.includes(b.name));

const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-run-'));
const summaries: BenchSummary[] = [];
const failed: string[] = [];
try {
  for (const bench of selected) {
    const summary = path.join(dir, `${bench.name}.json`);
    const args = [path.join(import.meta.dirname, `${bench.name}.ts`), ...bench.args, '--summary', summary];
    console.log(`\n=== ${bench.name}: node bench/${bench.name}.ts ${bench.args.join(' ')}\n`);
    const result = spawnSync(process.execPath, args, { stdio: 'inherit', timeout: 30 * 60_000 });
    if (result.status !== 0 || !existsSync(summary)) failed.push(bench.name);
    else summaries.push(JSON.parse(readFileSync(summary, 'utf8')) as BenchSummary);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\n=== summary (${new Date().toISOString().slice(0, 10)})\n\n${table([
    ['benchmark', 'figure', 'Witness', 'baseline', 'goal', ''],
    ...summaries.flatMap((s) => s.rows.map((r) => [s.bench, r.figure, r.witness, r.baseline, r.goal, verdict(r.met)])),
  ])}`,
);
if (failed.length) {
  console.error(`\nfailed to run: ${failed.join(', ')}`);
  process.exitCode = 1;
}
