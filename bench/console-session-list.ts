/**
 * Session list paging at scale: `GET /api/v1/sessions?status=ended` (the console's Sessions page) on the real
 * server (scripts/start.ts → wrangler dev, local D1) with 100,000 sessions: the first page, the second (the
 * first page's `nextCursor`) and a deep page (the cursor a client holds ~90% of the way down), p50/p95 over
 * many requests. Baseline in the
 * same run: the same requests when the database holds 1,000 sessions.
 *
 * Sessions are written straight into the local D1 file with the server stopped (node:sqlite, one
 * transaction): the list reads only the `sessions` table, so how a row got there does not matter here.
 *
 *   node bench/console-session-list.ts [--sessions 100000] [--baseline 1000] [--requests 200] [--summary FILE]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from './activity/database.ts';
import { localD1File, serverRoot, startWitness } from './activity/server.ts';
import { warnIfMachineBusy } from './lib/cpu.ts';
import { ms, percentile, table } from './lib/stats.ts';
import { type SummaryRow, verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    baseline: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '200' },
    summary: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/console-session-list.ts [--sessions 100000] [--baseline 1000] [--requests 200]');
  process.exit(0);
}
const SESSIONS = Number(values.sessions);
const BASELINE = Number(values.baseline);
const REQUESTS = Number(values.requests);
/** The console's page size (client/src/pages/sessions.tsx asks for the API's default). */
const PAGE = 50;
/** Goal: a page of the list answers fast enough to feel instant; 100 ms p95 on this machine. */
const GOAL_P95_MS = 100;
const DEPTH = 0.9;

const secrets = { apiKey: `bench-${process.pid}-list-key`, adminPassword: 'bench-admin-password-123' };
const MINUTE = 60_000;
const DEFAULT_POLICY = JSON.stringify({
  recordingEnabled: true,
  keystrokesEnabled: true,
  inactivityTimeoutMs: 15 * MINUTE,
  maxSessionLengthMs: 480 * MINUTE,
});

/** Adds sessions `from`..`to`-1: one every 5 minutes back from now, 19 in 20 ended. */
function seed(file: string, from: number, to: number): void {
  const db = openDatabase(file);
  const insert = db.prepare(
    `INSERT INTO sessions (id, user, target, protocol, status, end_reason, created_at, started_at, ended_at,
       duration_ms, policy, launched_by, recording_status, bytes, pieces, media_duration_ms, recording_bytes)
     VALUES (?, ?, ?, 'desktop', ?, ?, ?, ?, ?, ?, ?, 'key:bootstrap', ?, ?, ?, ?, ?)`,
  );
  const now = Date.now();
  db.exec('BEGIN');
  for (let i = from; i < to; i++) {
    const created = now - i * 5 * MINUTE;
    const ended = i % 20 !== 0;
    const duration = ended ? 60_000 + ((i * 7919) % 3_600_000) : null;
    insert.run(
      randomUUID(),
      `user${i % 200}`,
      `host-${i % 500}.prod`,
      ended ? 'ended' : 'active',
      ended ? 'ended_by_user' : null,
      created,
      created + 2000,
      ended ? created + 2000 + (duration as number) : null,
      duration,
      DEFAULT_POLICY,
      ended ? 'ready' : 'recording',
      ended ? 40_000_000 : 1_000_000,
      ended ? 600 : 20,
      duration,
      ended ? 40_000_000 : null,
    );
  }
  db.exec('COMMIT');
  db.close();
}

/** The `nextCursor` the API hands out after the ended session at `offset` (newest first). */
function cursorAt(file: string, offset: number): string {
  const db = openDatabase(file);
  const row = db
    .prepare(
      `SELECT created_at AS at, id FROM sessions WHERE status = 'ended'
        ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?`,
    )
    .get(offset) as { at: number; id: string };
  db.close();
  return `${row.at}~${row.id}`;
}

async function timeRequests(baseUrl: string, query: string): Promise<number[]> {
  const url = `${baseUrl}/api/v1/sessions?${query}`;
  const headers = { authorization: `Bearer ${secrets.apiKey}` };
  const times: number[] = [];
  for (let i = 0; i < REQUESTS + 10; i++) {
    const started = performance.now();
    const res = await fetch(url, { headers });
    const body = (await res.json()) as { sessions: unknown[] };
    const took = performance.now() - started;
    if (res.status !== 200 || body.sessions.length !== PAGE) {
      throw new Error(`GET ${query}: ${res.status}, ${body.sessions?.length} sessions`);
    }
    if (i >= 10) times.push(took); // the first few warm workerd and D1 up
  }
  return times.sort((a, b) => a - b);
}

interface Figures {
  sessions: number;
  first: number[];
  second: number[];
  deep: number[];
}

async function measure(state: string, total: number): Promise<Figures> {
  const endedCount = total - Math.ceil(total / 20);
  const file = localD1File(state);
  const second = cursorAt(file, PAGE - 1);
  const deep = cursorAt(file, Math.floor(endedCount * DEPTH));
  const server = await startWitness(state, secrets);
  try {
    return {
      sessions: total,
      first: await timeRequests(server.baseUrl, 'status=ended'),
      second: await timeRequests(server.baseUrl, `status=ended&cursor=${encodeURIComponent(second)}`),
      deep: await timeRequests(server.baseUrl, `status=ended&cursor=${encodeURIComponent(deep)}`),
    };
  } finally {
    await server.stop();
  }
}

console.log(`Session list paging: ${BASELINE} then ${SESSIONS} sessions, ${REQUESTS} requests per figure`);
console.log(`Server: ${serverRoot}`);
await warnIfMachineBusy();
const state = mkdtempSync(path.join(tmpdir(), 'witness-bench-list-'));
const results: Figures[] = [];
try {
  // The first start applies the migrations and creates the D1 file.
  await (await startWitness(state, secrets)).stop();
  const file = localD1File(state);
  seed(file, 0, BASELINE);
  results.push(await measure(state, BASELINE));
  seed(file, BASELINE, SESSIONS);
  results.push(await measure(state, SESSIONS));
} finally {
  rmSync(state, { recursive: true, force: true });
}

const [base, full] = results as [Figures, Figures];
const p = (t: number[], q: number) => ms(percentile(t, q));
console.log(
  `\n${table([
    ['page', 'sessions', 'p50', 'p95', 'max'],
    ...results.flatMap((r) => [
      ['first (status=ended)', String(r.sessions), p(r.first, 50), p(r.first, 95), p(r.first, 100)],
      ['second (cursor)', String(r.sessions), p(r.second, 50), p(r.second, 95), p(r.second, 100)],
      [`deep (${DEPTH * 100}% down)`, String(r.sessions), p(r.deep, 50), p(r.deep, 95), p(r.deep, 100)],
    ]),
  ])}`,
);
const rows: SummaryRow[] = [
  {
    figure: `first page p95, ${SESSIONS} sessions`,
    witness: p(full.first, 95),
    baseline: `${p(base.first, 95)} at ${BASELINE}`,
    goal: `< ${GOAL_P95_MS} ms`,
    met: percentile(full.first, 95) < GOAL_P95_MS,
  },
  {
    figure: `second page p95, ${SESSIONS} sessions`,
    witness: p(full.second, 95),
    baseline: `${p(base.second, 95)} at ${BASELINE}`,
    goal: `< ${GOAL_P95_MS} ms`,
    met: percentile(full.second, 95) < GOAL_P95_MS,
  },
  {
    figure: `deep page p95, ${SESSIONS} sessions`,
    witness: p(full.deep, 95),
    baseline: `${p(base.deep, 95)} at ${BASELINE}`,
    goal: `< ${GOAL_P95_MS} ms`,
    met: percentile(full.deep, 95) < GOAL_P95_MS,
  },
];
for (const row of rows) console.log(`${row.figure}: ${row.witness} (baseline ${row.baseline}) ${verdict(row.met)}`);
writeSummary(values.summary, { bench: 'console-session-list', rows });
