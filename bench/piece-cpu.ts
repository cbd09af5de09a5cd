/**
 * CPU per piece: what one ~50 KB media PUT costs the local server, per process (the Worker's workerd, wrangler's
 * proxy workerd, wrangler's Node, the local edge), at a rate far below its ceiling so nothing queues. Each
 * server named runs on a fresh state directory, one after the other, in the same run; CPU comes from /proc.
 *
 *   node bench/piece-cpu.ts [--sessions 50] [--rate 50] [--seconds 20] [--rounds 1] [ROOT ...]
 *
 * ROOT: checkouts to measure (frozen copies of commits, say); default this one. With several rounds the roots
 * alternate (A B A B …), so a change in what the rest of the machine does falls on both.
 */
import { parseArgs } from 'node:util';
import { closeAll, launchSession, putPiece } from './lib/client.ts';
import { cpuBetween, machineBusySeconds, snapshotTree, warnIfMachineBusy } from './lib/cpu.ts';
import { recordMedia, pieceFor } from './lib/media.ts';
import { startWitness } from './lib/servers.ts';
import { inBatches, sleepUntil, table } from './lib/stats.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sessions: { type: 'string', default: '50' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
  },
});
const SESSIONS = Number(values.sessions);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const roots = positionals.length ? positionals : [process.cwd()];

interface Measured {
  root: string;
  pieces: number;
  failed: number;
  /** ms of CPU per piece, by process label, and in all. */
  perPiece: Map<string, number>;
  total: number;
  otherPercent: number;
}

async function measure(root: string): Promise<Measured> {
  const server = await startWitness(root);
  try {
    const sessions = await inBatches(
      Array.from({ length: SESSIONS }, (_, i) => i),
      10,
      (i) => launchSession(server, `piece-cpu-${i}`),
    );
    const media = MEDIA;
    // Warm-up: every session stores piece 0 (the init segment) and piece 1, outside the measurement.
    const seqs = sessions.map(() => 0);
    for (let warm = 0; warm < 2; warm++) {
      await inBatches(sessions, 10, async (session, i) => {
        const piece = pieceFor(media, seqs[i] as number);
        await putPiece(server, session, piece.seq, piece.bytes, piece.headers);
        seqs[i] = (seqs[i] as number) + 1;
      });
    }
    const before = snapshotTree(server.pid, server.label);
    const machineBefore = machineBusySeconds();
    const started = performance.now();
    const total = RATE * SECONDS;
    let failed = 0;
    const inFlight: Promise<void>[] = [];
    for (let n = 0; n < total; n++) {
      await sleepUntil(started + (n * 1000) / RATE);
      const i = n % SESSIONS;
      const piece = pieceFor(media, seqs[i] as number);
      seqs[i] = (seqs[i] as number) + 1;
      inFlight.push(
        putPiece(server, sessions[i] as (typeof sessions)[number], piece.seq, piece.bytes, piece.headers).then(
          (r) => {
            if (r.status !== 201) failed++;
          },
          () => {
            failed++;
          },
        ),
      );
    }
    await Promise.all(inFlight);
    const wall = (performance.now() - started) / 1000;
    const use = cpuBetween(before, snapshotTree(server.pid, server.label));
    const machine = machineBusySeconds() - machineBefore;
    closeAll(sessions.map((s) => s.control));
    const perPiece = new Map<string, number>();
    for (const p of use.byProcess) {
      // servers.ts names workerd by its entry socket: the Worker's is on a random port (":0"), the proxy's on wrangler's.
      const label = !p.label.startsWith('workerd')
        ? p.label
        : p.label.includes(':0)')
          ? 'workerd: the Worker, its Durable Objects, local R2 and D1'
          : "workerd: wrangler's ProxyWorker";
      perPiece.set(label, (perPiece.get(label) ?? 0) + (1000 * p.seconds) / total);
    }
    return {
      root,
      pieces: total,
      failed,
      perPiece,
      total: (1000 * use.seconds) / total,
      otherPercent: (100 * Math.max(0, machine - use.seconds)) / wall,
    };
  } finally {
    await server.stop();
  }
}

await warnIfMachineBusy();
const MEDIA = recordMedia(30);
console.log(
  `piece CPU: ${SESSIONS} sessions, ${RATE} PUT/s for ${SECONDS} s (mean piece ${(MEDIA.meanClusterBytes / 1000).toFixed(1)} KB)`,
);
const results: Measured[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const root of roots) {
    const result = await measure(root);
    results.push(result);
    const rows = [...result.perPiece].filter(([, v]) => v >= 0.05).map(([k, v]) => [k, `${v.toFixed(2)} ms`]);
    console.log(
      `\n${root} (round ${round + 1}): ${result.pieces} pieces, ${result.failed} failed, other processes ${result.otherPercent.toFixed(0)} % of a core\n${table([['process', 'CPU per piece'], ...rows, ['all', `${result.total.toFixed(2)} ms`]])}`,
    );
  }
}
