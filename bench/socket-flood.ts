/**
 * Socket flood: does one flooding socket slow other sessions down? N sessions upload a ~50 KB piece a second
 * (as sustained-sessions.ts does) while, on one more session, a live viewer and a launcher control socket send
 * frames as fast as the connection takes them (1-byte frames, `{"type":"activity"}`), reconnecting at once
 * whenever the server closes them. The baseline is the same load without the flood, in the same run on the
 * same server, phases interleaved (quiet, flood, quiet, flood, …) so a busy shared machine hits both alike.
 * Goal: the other sessions' PUT p99 under the flood is within 2× of the baseline's.
 *
 * With `--burst N` each connection sends N frames and waits for the server to close it (the issue's case: 10,000
 * frames in one go), instead of going on until the server closes it.
 *
 *   node bench/socket-flood.ts [--sessions 20] [--seconds 20] [--rounds 2] [--reconnect yes|no] [--burst N]
 *     [--summary FILE]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import type { FloodOrders, FloodReport, FloodStats } from './lib/flooder.ts';
import { type BenchSession, closeAll, launchSession, type UploadRecord, uploadOnSchedule } from './lib/client.ts';
import { cpuBetween, machineBusySeconds, percentOfCore, snapshotTree, warnIfMachineBusy } from './lib/cpu.ts';
import { type BenchMedia, recordMedia } from './lib/media.ts';
import { describeServerCode, type RunningServer, startWitness } from './lib/servers.ts';
import { distribution, inBatches, ms, sleep, table } from './lib/stats.ts';
import { verdict, writeSummary } from './lib/summary.ts';

const USAGE = `Usage: node bench/socket-flood.ts [options]
  --sessions N      sessions uploading a ~50 KB piece a second, measured (default 20)
  --seconds N       seconds each phase uploads (default 20)
  --rounds N        quiet + flood phase pairs, interleaved (default 2)
  --reconnect yes|no  whether the flooders reconnect at once when closed (default yes)
  --burst N         frames each connection sends, then waits to be closed (default 0: no limit)
  --summary FILE    write the figures as JSON (bench/run.ts reads it)
Environment: WITNESS_BENCH_SERVER_ROOT=DIR measures the checkout in DIR (a frozen copy of a commit) instead
of this one; WITNESS_BENCH_SERVER_LOG=FILE keeps everything the servers print.`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    sessions: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    reconnect: { type: 'string', default: 'yes' },
    burst: { type: 'string', default: '0' },
    summary: { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const SESSIONS = Number(values.sessions);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const RECONNECT = values.reconnect !== 'no';
const BURST = Number(values.burst);
const GOAL_RATIO = 2;
/** A flooder stops queueing frames while this much is still unsent (the connection's own pace). */
const HIGH_WATER_BYTES = 256 * 1024;
const HEALTH_EVERY_MS = 250;
const LAUNCHER_HELLO = JSON.stringify({
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  launcher: { name: 'bench', version: '0', platform: 'linux' },
  reportsActivity: true,
});

/**
 * The flood runs in a thread of its own (lib/flooder.ts): a flooder's send loop runs for as long as the connection
 * takes frames, and in this thread it would hold up the uploads whose latency is measured, which is no part of
 * what the server does. The thread shares this process's CPU figure; the server's is measured apart.
 */
function startFlood(server: RunningServer, victim: { sessionId: string; token: string }) {
  const worker = new Worker(new URL('./lib/flooder.ts', import.meta.url), {
    workerData: {
      wsBase: wsUrl(server),
      apiKey: server.apiKey,
      sessionId: victim.sessionId,
      token: victim.token,
      hello: LAUNCHER_HELLO,
      reconnect: RECONNECT,
      burst: BURST,
      highWaterBytes: HIGH_WATER_BYTES,
    } satisfies FloodOrders,
  });
  const stopped = new Promise<FloodReport>((resolve, reject) => {
    worker.once('message', (report: FloodReport) => resolve(report));
    worker.once('error', reject);
  });
  return {
    stop: async (): Promise<FloodReport> => {
      worker.postMessage('stop');
      const report = await stopped;
      await worker.terminate();
      return report;
    },
  };
}

function wsUrl(server: RunningServer): string {
  return server.baseUrl.replace(/^http/, 'ws');
}

/** Opens a session's control socket and says hello; resolves once welcomed. */
function openControl(server: RunningServer, sessionId: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${wsUrl(server)}/ingest/v1/sessions/${sessionId}/control`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return new Promise((resolve, reject) => {
    ws.on('error', reject); // not once: a refused upgrade may report more than one error
    ws.once('open', () => ws.send(LAUNCHER_HELLO));
    ws.on('message', (data) => {
      if (String(data).startsWith('{"type":"welcome"')) resolve(ws);
    });
  });
}

/**
 * Ends a session as its launcher does (`end` with the last seq, on a new control socket if a flooder's hello
 * replaced it) and waits, at most a minute, until it is sealed.
 */
async function endAndSeal(server: RunningServer, session: BenchSession, lastSeq: number): Promise<void> {
  // A flooded session's launcher may be refused for a while after the flooder's close (429): retry, as a
  // launcher does.
  for (let attempt = 0; session.control.readyState !== WebSocket.OPEN; attempt++) {
    try {
      session.control = await openControl(server, session.sessionId, session.token);
    } catch (error) {
      if (attempt >= 60) throw error;
      await sleep(1_000);
    }
  }
  session.control.send(JSON.stringify({ type: 'end', lastSeq }));
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const res = await fetch(`${server.baseUrl}/api/v1/sessions/${session.sessionId}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    const { recording } = (await res.json()) as { recording: { status: string } };
    if (!['recording', 'finalizing'].includes(recording.status)) return;
    await sleep(250);
  }
  console.warn(`  session ${session.sessionId} was not sealed within a minute`);
}

/** GETs /api/health every HEALTH_EVERY_MS until `stop`; the latencies of those answered. */
function probeHealth(server: RunningServer): { latencies: number[]; failures: number; stop: () => Promise<void> } {
  let stopped = false;
  let loop: Promise<void> = Promise.resolve();
  const probe = {
    latencies: [] as number[],
    failures: 0,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
  loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const ok = await fetch(`${server.baseUrl}/api/health`).then(
        async (r) => {
          await r.arrayBuffer();
          return r.ok;
        },
        () => false,
      );
      if (ok) probe.latencies.push(performance.now() - started);
      else probe.failures++;
      await sleep(HEALTH_EVERY_MS - (performance.now() - started));
    }
  })();
  return probe;
}

interface PhaseResult {
  flood: boolean;
  /** PUT → 201 of the measured sessions (not the flooded one). */
  put: number[];
  /** PUT → 201 of the flooded session's own uploads. */
  victimPut: number[];
  sent: number;
  acked: number;
  errors: string[];
  health: number[];
  healthFailures: number;
  viewerFlood: FloodStats | null;
  launcherFlood: FloodStats | null;
  wallSeconds: number;
  serverCpuSeconds: number;
  otherCpuSeconds: number;
}

async function phase(server: RunningServer, media: BenchMedia, flood: boolean, index: number): Promise<PhaseResult> {
  const sessions: BenchSession[] = await inBatches(
    Array.from({ length: SESSIONS }, (_, i) => i),
    10,
    (i) => launchSession(server, `flood-${index}-${i}`),
  );
  const victim = await launchSession(server, `flood-${index}-victim`);
  const flooders = flood ? startFlood(server, victim) : null;
  const health = probeHealth(server);
  const cpuBefore = snapshotTree(server.pid, server.label);
  const machineBefore = machineBusySeconds();
  const loadBefore = process.cpuUsage();
  const measuredFrom = performance.now();
  const startAt = measuredFrom + 1000;
  const plans = [...sessions, victim].map((session, i) =>
    uploadOnSchedule({ server, session, media, startAt: startAt + (i * 1000) / (SESSIONS + 1), pieces: SECONDS }),
  );
  const uploads: UploadRecord[][] = await Promise.all(plans);
  const wallSeconds = (performance.now() - measuredFrom) / 1000;
  const floods = await flooders?.stop();
  await health.stop();
  const serverCpuSeconds = cpuBetween(cpuBefore, snapshotTree(server.pid, server.label)).seconds;
  const load = process.cpuUsage(loadBefore);
  const machine = machineBusySeconds() - machineBefore;
  // Each phase seals what it recorded before the next one starts, so no seal runs into another phase.
  await inBatches([...sessions, victim], 10, (session) => endAndSeal(server, session, SECONDS - 1));
  closeAll([...sessions, victim].map((s) => s.control));

  const latency = (records: UploadRecord[]) =>
    records.filter((r) => r.ackAt !== null).map((r) => (r.ackAt as number) - r.sentAt);
  const measured = uploads.slice(0, SESSIONS).flat();
  return {
    flood,
    put: latency(measured),
    victimPut: latency(uploads[SESSIONS] ?? []),
    sent: measured.length,
    acked: measured.filter((r) => r.ackAt !== null).length,
    errors: uploads.flat().flatMap((r) => r.errors),
    health: health.latencies,
    healthFailures: health.failures,
    viewerFlood: floods?.viewer ?? null,
    launcherFlood: floods?.launcher ?? null,
    wallSeconds,
    serverCpuSeconds,
    otherCpuSeconds: Math.max(0, machine - serverCpuSeconds - (load.user + load.system) / 1e6),
  };
}

function describeFlood(stats: FloodStats | null): string {
  if (!stats) return '-';
  const closes = stats.closes.map(([code, n]) => `${n}× ${code}`).join(', ') || 'none';
  return `${stats.framesSent.toLocaleString('en')} frames on ${stats.connections} sockets (closes: ${closes}; ${stats.refused} upgrades refused; ${stats.framesReceived} frames back)`;
}

await warnIfMachineBusy();
const media = recordMedia(Math.min(SECONDS, 60));
console.log(
  `socket flood: ${SESSIONS} sessions + 1 flooded, a piece a second each (mean ${(media.meanClusterBytes / 1000).toFixed(1)} KB) for ${SECONDS} s per phase; ${ROUNDS} × (quiet, flood); flooders ${RECONNECT ? 'reconnect at once' : 'do not reconnect'}, ${BURST > 0 ? `${BURST} frames a connection` : 'frames until closed'}`,
);
console.log(`Witness server: ${describeServerCode()}`);
const server = await startWitness();
const results: PhaseResult[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const flood of [false, true]) {
      console.log(`round ${round + 1}: ${flood ? 'flood' : 'quiet'} ...`);
      const result = await phase(server, media, flood, results.length);
      results.push(result);
      console.log(
        `  PUT p99 ${ms(distribution(result.put).p99)}, flooded session's PUT p99 ${ms(distribution(result.victimPut).p99)}, health p99 ${ms(distribution(result.health).p99)}, server CPU ${percentOfCore(result.serverCpuSeconds, result.wallSeconds)}, other processes ${percentOfCore(result.otherCpuSeconds, result.wallSeconds)}`,
      );
      if (flood) {
        console.log(`  viewer flooder: ${describeFlood(result.viewerFlood)}`);
        console.log(`  launcher flooder: ${describeFlood(result.launcherFlood)}`);
      }
    }
  }
} catch (error) {
  console.error(`the server's last output:\n${server.output().slice(-6000)}`);
  throw error;
} finally {
  await server.stop();
}

/** A figure over every phase with (true) or without (false) the flood, as the two cells of a table row. */
const both = (format: (phases: PhaseResult[]) => string) =>
  [false, true].map((flood) => format(results.filter((r) => r.flood === flood)));
const latency = (pick: (r: PhaseResult) => number[]) => (phases: PhaseResult[]) => distribution(phases.flatMap(pick));
const total = (phases: PhaseResult[], pick: (r: PhaseResult) => number) => phases.reduce((a, r) => a + pick(r), 0);
const cpu = (pick: (r: PhaseResult) => number) => (phases: PhaseResult[]) => {
  const wall = total(phases, (r) => r.wallSeconds);
  return percentOfCore(total(phases, pick), wall);
};
const put = latency((r) => r.put);
const quietP99 = put(results.filter((r) => !r.flood)).p99;
const floodP99 = put(results.filter((r) => r.flood)).p99;
const ratio = floodP99 / quietP99;
console.log(
  `\n${table([
    ['figure', 'no flood', 'flood'],
    ['other sessions: PUT → 201 p50', ...both((p) => ms(put(p).p50))],
    ['other sessions: PUT → 201 p99', ...both((p) => ms(put(p).p99))],
    ['other sessions: PUT → 201 max', ...both((p) => ms(put(p).max))],
    ['other sessions: pieces acked / sent', ...both((p) => `${total(p, (r) => r.acked)} / ${total(p, (r) => r.sent)}`)],
    ["flooded session's own PUT p99", ...both((p) => ms(latency((r) => r.victimPut)(p).p99))],
    ['GET /api/health p99', ...both((p) => ms(latency((r) => r.health)(p).p99))],
    ['GET /api/health max', ...both((p) => ms(latency((r) => r.health)(p).max))],
    ['GET /api/health failures', ...both((p) => String(total(p, (r) => r.healthFailures)))],
    ['PUT errors (retried)', ...both((p) => String(total(p, (r) => r.errors.length)))],
    ['server CPU', ...both(cpu((r) => r.serverCpuSeconds))],
    ['other processes CPU', ...both(cpu((r) => r.otherCpuSeconds))],
  ])}`,
);
for (const error of results.flatMap((r) => r.errors).slice(0, 3)) console.log(`  PUT error: ${error}`);
const met = ratio <= GOAL_RATIO;
console.log(
  `\ngoal: other sessions' PUT p99 under the flood ≤ ${GOAL_RATIO}× without — ${ms(floodP99)} / ${ms(quietP99)} = ${ratio.toFixed(2)}×: ${verdict(met)}`,
);
writeSummary(values.summary, {
  bench: 'socket-flood',
  rows: [
    {
      figure: `${SESSIONS} sessions' PUT p99 while 2 sockets flood another`,
      witness: `${ms(floodP99)} (${ratio.toFixed(2)}×)`,
      baseline: ms(quietP99),
      goal: `≤ ${GOAL_RATIO}× the quiet p99`,
      met,
    },
  ],
});
