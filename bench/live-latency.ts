/**
 * Live latency: how long after a piece is acknowledged to its uploader do live viewers have it?
 * S sessions (default 20) × V viewers (default 3), each session uploading a ~50 KB piece a second.
 * Measured against Witness and, in the same run, a bare Node relay (lib/bare-server.ts).
 *
 *   node bench/live-latency.ts [--sessions 20] [--viewers 3] [--seconds 30] [--summary FILE]
 */
import { parseArgs } from 'node:util';
import {
  type BenchSession,
  closeAll,
  type LiveViewer,
  launchSession,
  type UploadRecord,
  uploadOnSchedule,
  watchLive,
} from './lib/client.ts';
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
import { type Distribution, distribution, inBatches, ms, sleep, table } from './lib/stats.ts';
import { verdict, writeSummary } from './lib/summary.ts';

const USAGE = `Usage: node bench/live-latency.ts [options]
  --sessions N   sessions uploading at once (default 20)
  --viewers N    live viewers per session (default 3)
  --seconds N    seconds each session uploads, one ~50 KB piece a second (default 30)
  --summary FILE write the figures as JSON (bench/run.ts reads it)
Environment: WITNESS_BENCH_SERVER_ROOT=DIR measures the checkout in DIR (a frozen copy of a commit) instead
of this one; WITNESS_BENCH_SERVER_LOG=FILE keeps everything the servers print.`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    sessions: { type: 'string', default: '20' },
    viewers: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    summary: { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const SESSIONS = Number(values.sessions);
const VIEWERS = Number(values.viewers);
const SECONDS = Number(values.seconds);
/** How long to wait after the last acknowledgment for viewers to catch up before counting a piece lost. */
const DRAIN_MS = 10_000;
const GOAL_P99_MS = 100;
const GOAL_RATIO = 3;

interface LiveResult {
  /** Acknowledgment (201 read by the uploader) → a viewer has the piece. */
  ackToViewer: Distribution;
  /** PUT started → a viewer has the piece: what a person watching would feel. */
  sendToViewer: Distribution;
  /** PUT started → 201 read. */
  put: Distribution;
  acked: number;
  lost: number;
  errors: number;
  duplicates: number;
  gaps: number;
  wallSeconds: number;
  server: CpuUse;
  loadGeneratorCpuSeconds: number;
  /** CPU the rest of the machine used meanwhile (other people's work would show here). */
  otherCpuSeconds: number;
}

async function measure(server: RunningServer, media: BenchMedia): Promise<LiveResult> {
  const sessions = await inBatches(
    Array.from({ length: SESSIONS }, (_, i) => i),
    5,
    (i) => launchSession(server, `live-${i}`),
  );
  const viewers: LiveViewer[][] = await inBatches(sessions, 5, (s: BenchSession) =>
    Promise.all(Array.from({ length: VIEWERS }, () => watchLive(server, s.sessionId))),
  );

  const cpuBefore = snapshotTree(server.pid, server.label);
  const loadBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const wallStart = performance.now();
  // Sessions are spread over the second, as independent launchers would be.
  const startAt = performance.now() + 1000;
  const uploads: UploadRecord[][] = await Promise.all(
    sessions.map((session, i) =>
      uploadOnSchedule({
        server,
        session,
        media,
        startAt: startAt + (i * 1000) / SESSIONS,
        pieces: SECONDS + 1,
      }),
    ),
  );
  const allDelivered = () =>
    uploads.every((records, i) =>
      records.every((r) => r.ackAt === null || viewers[i]?.every((v) => v.received.has(r.seq))),
    );
  const drainUntil = performance.now() + DRAIN_MS;
  while (!allDelivered() && performance.now() < drainUntil) await sleep(50);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const server_ = cpuBetween(cpuBefore, snapshotTree(server.pid, server.label));
  const load = process.cpuUsage(loadBefore);
  const machine = machineBusySeconds() - machineBefore;

  const ackToViewer: number[] = [];
  const sendToViewer: number[] = [];
  let lost = 0;
  for (const [i, records] of uploads.entries()) {
    for (const record of records) {
      if (record.ackAt === null) continue;
      for (const viewer of viewers[i] ?? []) {
        const at = viewer.received.get(record.seq);
        if (at === undefined) lost++;
        else {
          ackToViewer.push(at - record.ackAt);
          sendToViewer.push(at - record.sentAt);
        }
      }
    }
  }
  const records = uploads.flat();
  const acked = records.filter((r) => r.ackAt !== null);
  const allViewers = viewers.flat();
  closeAll([...allViewers.map((v) => v.socket), ...sessions.map((s) => s.control)]);
  return {
    ackToViewer: distribution(ackToViewer),
    sendToViewer: distribution(sendToViewer),
    put: distribution(acked.map((r) => (r.ackAt as number) - r.sentAt)),
    acked: acked.length,
    lost,
    errors: records.reduce((a, r) => a + r.errors.length, 0),
    duplicates: allViewers.reduce((a, v) => a + v.duplicates, 0),
    gaps: allViewers.reduce((a, v) => a + v.gaps, 0),
    wallSeconds,
    server: server_,
    loadGeneratorCpuSeconds: (load.user + load.system) / 1e6,
    otherCpuSeconds: Math.max(0, machine - server_.seconds - (load.user + load.system) / 1e6),
  };
}

function measureOn(start: () => Promise<RunningServer>, media: BenchMedia): Promise<LiveResult> {
  return withServer(start, (server) => {
    console.log(`measuring ${server.name} at ${server.baseUrl} ...`);
    return measure(server, media);
  });
}

await warnIfMachineBusy();
const media = recordMedia(Math.min(SECONDS, 120));
console.log(
  `live latency: ${SESSIONS} sessions × ${VIEWERS} viewers, a piece a second (mean ${(media.meanClusterBytes / 1000).toFixed(1)} KB) for ${SECONDS} s`,
);
console.log(`Witness server: ${describeServerCode()}`);
const bare = await measureOn(startBare, media);
const witness = await measureOn(startWitness, media);

const row = (figure: string, pick: (r: LiveResult) => string) => [figure, pick(witness), pick(bare)];
console.log(
  `\n${table([
    ['figure', 'Witness', 'bare Node relay'],
    row('ack → viewer p50', (r) => ms(r.ackToViewer.p50)),
    row('ack → viewer p99', (r) => ms(r.ackToViewer.p99)),
    row('ack → viewer max', (r) => ms(r.ackToViewer.max)),
    row('deliveries counted', (r) => String(r.ackToViewer.count)),
    row('lost (acked, never seen)', (r) => String(r.lost)),
    row('PUT start → viewer p50', (r) => ms(r.sendToViewer.p50)),
    row('PUT start → viewer p99', (r) => ms(r.sendToViewer.p99)),
    row('PUT → 201 p50', (r) => ms(r.put.p50)),
    row('PUT → 201 p99', (r) => ms(r.put.p99)),
    row('pieces acked', (r) => String(r.acked)),
    row('PUT errors', (r) => String(r.errors)),
    row('duplicate frames / gaps', (r) => `${r.duplicates} / ${r.gaps}`),
    row('server CPU (tree)', (r) => percentOfCore(r.server.seconds, r.wallSeconds)),
    row('load generator CPU', (r) => percentOfCore(r.loadGeneratorCpuSeconds, r.wallSeconds)),
    row('other processes CPU', (r) => percentOfCore(r.otherCpuSeconds, r.wallSeconds)),
  ])}`,
);
console.log('');
printCpuByProcess('Witness server CPU by process', witness.server, witness.wallSeconds);

const p99 = witness.ackToViewer.p99;
const underCeiling = p99 <= GOAL_P99_MS;
const withinRatio = p99 <= GOAL_RATIO * bare.ackToViewer.p99;
const noLoss = witness.lost === 0 && witness.acked === SESSIONS * (SECONDS + 1);
console.log(
  `\ngoal: p99 ≤ ${GOAL_P99_MS} ms: ${ms(p99)} — ${verdict(underCeiling)}; ` +
    `p99 ≤ ${GOAL_RATIO}× bare relay (${ms(GOAL_RATIO * bare.ackToViewer.p99)}): ${verdict(withinRatio)}; ` +
    `nothing lost: ${verdict(noLoss)}`,
);

writeSummary(values.summary, {
  bench: 'live-latency',
  rows: [
    {
      figure: `ack → viewer p99 (${SESSIONS}×${VIEWERS}, ${SECONDS} s)`,
      witness: ms(p99),
      baseline: ms(bare.ackToViewer.p99),
      goal: `≤ ${GOAL_P99_MS} ms and ≤ ${GOAL_RATIO}× baseline`,
      met: underCeiling && withinRatio,
    },
    {
      figure: 'ack → viewer p50',
      witness: ms(witness.ackToViewer.p50),
      baseline: ms(bare.ackToViewer.p50),
      goal: '',
      met: null,
    },
    {
      figure: 'lost pieces',
      witness: String(witness.lost),
      baseline: String(bare.lost),
      goal: '0',
      met: noLoss,
    },
  ],
});
