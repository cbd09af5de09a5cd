/**
 * Sustained sessions: N sessions at once, each with its control socket open and uploading a ~50 KB piece a
 * second, as launchers do. Counts acknowledged pieces, checks through the API that every session stored
 * every piece (none missing), and whether the load was sustained: every piece acknowledged within 1 s of its
 * slot in the schedule, so no backlog builds up. Baseline: the same load on a bare Node server that writes
 * each piece to disk and answers (lib/bare-server.ts). Each step of the ramp gets a fresh server.
 *
 *   node bench/sustained-sessions.ts [--sessions 100] [--seconds 60] [--ramp 50,100,150] [--summary FILE]
 */
import { parseArgs } from 'node:util';
import { closeAll, launchSession, storedRecording, type UploadRecord, uploadOnSchedule } from './lib/client.ts';
import {
  type CpuUse,
  cpuBetween,
  machineBusySeconds,
  percentOfCore,
  printCpuByProcess,
  snapshotTree,
  warnIfMachineBusy,
} from './lib/cpu.ts';
import { type BenchMedia, recordMedia } from './lib/media.ts';
import { describeServerCode, type RunningServer, startBare, startWitness, withServer } from './lib/servers.ts';
import { type Distribution, distribution, inBatches, ms, table } from './lib/stats.ts';
import { type SummaryRow, verdict, writeSummary } from './lib/summary.ts';

const USAGE = `Usage: node bench/sustained-sessions.ts [options]
  --sessions N       sessions at once (default 100)
  --ramp N,N,...     several steps instead, each on a fresh server (e.g. 100,125,150,200)
  --seconds N        seconds each step lasts, one ~50 KB piece a second per session (default 60)
  --summary FILE     write the figures as JSON (bench/run.ts reads it)
Environment: WITNESS_BENCH_SERVER_ROOT=DIR measures the checkout in DIR (a frozen copy of a commit) instead
of this one; WITNESS_BENCH_SERVER_LOG=FILE keeps everything the servers print.`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    sessions: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '60' },
    ramp: { type: 'string' },
    summary: { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const STEPS = (values.ramp ?? values.sessions)
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const GOAL_SESSIONS = 100;
/** A piece acknowledged later than this after its slot means the server is falling behind. */
const LATE_MS = 1000;

interface StepResult {
  sessions: number;
  sent: number;
  acked: number;
  piecesPerSecond: number;
  put: Distribution;
  /** Acknowledgment time minus schedule slot (includes waiting behind the two-in-flight limit). */
  lateness: Distribution;
  latenessFirstThird: Distribution;
  latenessLastThird: Distribution;
  errors: number;
  firstErrors: string[];
  /** Sessions whose stored piece count or missingPieces disagree with what was acknowledged. */
  unverified: number;
  sustained: boolean;
  wallSeconds: number;
  server: CpuUse;
  loadGeneratorCpuSeconds: number;
  /** CPU the rest of the machine used meanwhile (other people's work would show here). */
  otherCpuSeconds: number;
}

async function step(server: RunningServer, media: BenchMedia, count: number): Promise<StepResult> {
  const sessions = await inBatches(
    Array.from({ length: count }, (_, i) => i),
    10,
    (i) => launchSession(server, `sustained-${i}`),
  );
  const cpuBefore = snapshotTree(server.pid, server.label);
  const loadBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const measuredFrom = performance.now();
  const startAt = measuredFrom + 1000;
  const uploads: UploadRecord[][] = await Promise.all(
    sessions.map((session, i) =>
      uploadOnSchedule({ server, session, media, startAt: startAt + (i * 1000) / count, pieces: SECONDS }),
    ),
  );
  const wallSeconds = (performance.now() - measuredFrom) / 1000;
  const serverCpu = cpuBetween(cpuBefore, snapshotTree(server.pid, server.label));
  const load = process.cpuUsage(loadBefore);
  const machine = machineBusySeconds() - machineBefore;

  let unverified = 0;
  await inBatches(sessions, 10, async (session, i) => {
    const sent = uploads[i]?.length ?? 0;
    const recording = await storedRecording(server, session.sessionId);
    if (recording.pieces !== sent || recording.missingPieces.length > 0) unverified++;
  });
  closeAll(sessions.map((s) => s.control));

  const records = uploads.flat();
  const acked = records.filter((r) => r.ackAt !== null);
  const lateness = (r: UploadRecord) => (r.ackAt as number) - r.slotAt;
  const third = (SECONDS * 1000) / 3;
  const firstThird = acked.filter((r) => r.slotAt - startAt < third).map(lateness);
  const lastThird = acked.filter((r) => r.slotAt - startAt >= 2 * third).map(lateness);
  const errors = records.flatMap((r) => r.errors);
  const latenessAll = distribution(acked.map(lateness));
  return {
    sessions: count,
    sent: records.length,
    acked: acked.length,
    piecesPerSecond: acked.length / ((Math.max(...acked.map((r) => r.ackAt as number)) - startAt) / 1000),
    put: distribution(acked.map((r) => (r.ackAt as number) - r.sentAt)),
    lateness: latenessAll,
    latenessFirstThird: distribution(firstThird),
    latenessLastThird: distribution(lastThird),
    errors: errors.length,
    firstErrors: errors.slice(0, 3),
    unverified,
    sustained: acked.length === records.length && unverified === 0 && latenessAll.max <= LATE_MS,
    wallSeconds,
    server: serverCpu,
    loadGeneratorCpuSeconds: (load.user + load.system) / 1e6,
    otherCpuSeconds: Math.max(0, machine - serverCpu.seconds - (load.user + load.system) / 1e6),
  };
}

function stepOn(start: () => Promise<RunningServer>, media: BenchMedia, count: number) {
  return withServer(start, (server) => {
    console.log(`${server.name}: ${count} sessions for ${SECONDS} s ...`);
    return step(server, media, count);
  });
}

await warnIfMachineBusy();
const media = recordMedia(Math.min(SECONDS, 120));
console.log(
  `sustained sessions: steps ${STEPS.join(', ')}; a piece a second per session (mean ${(media.meanClusterBytes / 1000).toFixed(1)} KB) for ${SECONDS} s`,
);
console.log(`Witness server: ${describeServerCode()}`);
const results: Array<{ sessions: number; witness: StepResult; bare: StepResult }> = [];
for (const count of STEPS) {
  const bare = await stepOn(startBare, media, count);
  const witness = await stepOn(startWitness, media, count);
  results.push({ sessions: count, witness, bare });
  const row = (figure: string, pick: (r: StepResult) => string) => [figure, pick(witness), pick(bare)];
  console.log(
    `\n${count} sessions\n${table([
      ['figure', 'Witness', 'bare Node'],
      row('pieces acked / sent', (r) => `${r.acked} / ${r.sent}`),
      row('achieved pieces/s', (r) => r.piecesPerSecond.toFixed(1)),
      row('PUT → 201 p50', (r) => ms(r.put.p50)),
      row('PUT → 201 p99', (r) => ms(r.put.p99)),
      row('PUT → 201 max', (r) => ms(r.put.max)),
      row('ack after slot p99, first third', (r) => ms(r.latenessFirstThird.p99)),
      row('ack after slot p99, last third', (r) => ms(r.latenessLastThird.p99)),
      row('ack after slot max', (r) => ms(r.lateness.max)),
      row('PUT errors (retried)', (r) => String(r.errors)),
      row('sessions failing the stored check', (r) => String(r.unverified)),
      row('server CPU (tree)', (r) => percentOfCore(r.server.seconds, r.wallSeconds)),
      row('load generator CPU', (r) => percentOfCore(r.loadGeneratorCpuSeconds, r.wallSeconds)),
      row('other processes CPU', (r) => percentOfCore(r.otherCpuSeconds, r.wallSeconds)),
      row(`sustained (all acked ≤ ${LATE_MS} ms after slot, all stored)`, (r) => (r.sustained ? 'yes' : 'NO')),
    ])}`,
  );
  for (const error of witness.firstErrors) console.log(`  Witness error: ${error}`);
  printCpuByProcess('Witness server CPU by process', witness.server, witness.wallSeconds);
}

const sustainedCounts = results.filter((r) => r.witness.sustained).map((r) => r.sessions);
const best = sustainedCounts.length ? Math.max(...sustainedCounts) : 0;
const met = best >= GOAL_SESSIONS;
console.log(
  `\ngoal: ≥ ${GOAL_SESSIONS} sessions sustained — Witness sustained ${best || 'none'} of the steps tried (${STEPS.join(', ')}): ${verdict(met)}`,
);

const rows: SummaryRow[] = results.flatMap(({ sessions, witness, bare }) => [
  {
    figure: `${sessions} sessions × ${SECONDS} s: sustained`,
    witness: witness.sustained ? 'yes' : 'no',
    baseline: bare.sustained ? 'yes' : 'no',
    goal: sessions >= GOAL_SESSIONS ? `≥ ${GOAL_SESSIONS} sessions` : '',
    met: sessions >= GOAL_SESSIONS ? witness.sustained : null,
  },
  {
    figure: `${sessions} sessions: pieces/s, PUT p99`,
    witness: `${witness.piecesPerSecond.toFixed(1)}, ${ms(witness.put.p99)}`,
    baseline: `${bare.piecesPerSecond.toFixed(1)}, ${ms(bare.put.p99)}`,
    goal: '',
    met: null,
  },
]);
writeSummary(values.summary, { bench: 'sustained-sessions', rows });
