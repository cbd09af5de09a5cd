/**
 * Activity search at scale: 1,000,000 events over 1,000 sessions on the real server (scripts/start.ts →
 * wrangler dev, local D1). Measures
 *   - event ingest through `POST /ingest/v1/sessions/{id}/events/{batch}` (events/s, batch p50/p99);
 *   - cross-session search through `GET /api/v1/sessions?q=…&in=keystrokes,processes,windows` (p50/p95/p99)
 *     with rare, medium, common, two-word and absent queries;
 *   - the same search code (worker/activity/search/) run on the D1 file with node:sqlite, to separate the
 *     engine's time from HTTP, workerd and D1's message passing; then, untimed, every query paged to the end
 *     (each matching session must be listed once), and the second page of the common words timed;
 *   - the baseline, in the same run over the same rows and columns: a `LIKE '%word%'` scan.
 * Events the ingest API does not store within a time budget are loaded straight into the local D1 file with
 * the server stopped, through the same `activity` table (so the FTS5 triggers index them), then the server
 * is started again on the same state.
 *
 *   node bench/activity-search.ts [--sessions 1000] [--events 1000000] [--api-sessions 100] [--api-budget 420]
 *                                 [--per-kind 70] [--rounds 1] [--keep] [--summary FILE]
 *
 * WITNESS_BENCH_SERVER_ROOT=DIR measures the server in DIR (a `git archive` of a commit with node_modules and
 * dist/client beside it) instead of this checkout. See docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ActivityEvent, SearchIn } from '../protocol/activity.ts';
import { type Api, launch, postBatch, type SearchReply, searchApi, sessionStates, terminate } from './activity/api.ts';
import { buildVocabulary, planSessions, sessionEvents } from './activity/corpus.ts';
import {
  type ActivityMatch,
  asD1,
  buildReferenceIndex,
  bulkLoad,
  likeSearch,
  loadServerCode,
  openDatabase,
  queryPlan,
  SEARCH_OPTIONS,
  storageSizes,
} from './activity/database.ts';
import { referencePhrase, referenceSessions } from './activity/reference.ts';
import { COMMON_FROM, chooseQueries, type QueryKind, RARE_BELOW, type SearchQuery } from './activity/queries.ts';
import { killServers, localD1File, serverRoot, startWitness, type WitnessServer } from './activity/server.ts';
import { cpuBetween, machineBusySeconds, snapshotTree, warnIfMachineBusy } from './lib/cpu.ts';
import { bytes, inBatches, ms, percentile, sleep, table } from './lib/stats.ts';
import { type SummaryRow, verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    events: { type: 'string', default: '1000000' },
    /** Sessions whose events always go through the ingest API (the ingest measurement). */
    'api-sessions': { type: 'string', default: '100' },
    /** If the API would store the rest within this many seconds, it does; otherwise they are bulk-loaded. */
    'api-budget': { type: 'string', default: '420' },
    'api-batch': { type: 'string', default: '500' },
    'bulk-batch': { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '4' },
    'per-kind': { type: 'string', default: '70' },
    'two-words': { type: 'string', default: '20' },
    absent: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    seed: { type: 'string', default: '20261127' },
    keep: { type: 'boolean', default: false },
    summary: { type: 'string' },
  },
});
const SESSIONS = Number(values.sessions);
const EVENTS = Number(values.events);
const API_SESSIONS = Math.min(SESSIONS, Number(values['api-sessions']));
const API_BUDGET_S = Number(values['api-budget']);
const API_BATCH = Number(values['api-batch']);
const BULK_BATCH = Number(values['bulk-batch']);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const SEED = Number(values.seed);
const WITHIN: readonly SearchIn[] = ['keystrokes', 'processes', 'windows'];
const GOAL_P95_MS = 50;
const GOAL_SPEEDUP = 100;
/** Ingest tokens live 15 minutes (INGEST_TOKEN_TTL_SECONDS); API ingest must finish well inside that. */
const TOKEN_MARGIN_MS = 12 * 60_000;
/**
 * A pending session's clock (no launcher connected, startedAt null) accepts events up to 5 min
 * (EVENT_CLOCK_SLACK_MS): every session's events are spread over 290 s so any of them can go through the API.
 * Search does not depend on the timestamps.
 */
const SESSION_SPAN_MS = 290_000;

function log(line: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function p(values: readonly number[], q: number): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    q,
  );
}

function batchesOf(events: readonly ActivityEvent[], size: number): ActivityEvent[][] {
  const out: ActivityEvent[][] = [];
  for (let i = 0; i < events.length; i += size) out.push(events.slice(i, i + size));
  return out;
}

/** CPU of the machine, the server's process tree and this process over a phase, in % of one core. */
function cpuMeter(server: WitnessServer | null) {
  const machine = machineBusySeconds();
  const own = process.cpuUsage();
  const tree = server ? snapshotTree(server.pid) : null;
  const started = performance.now();
  return () => {
    const wall = (performance.now() - started) / 1000;
    const used = process.cpuUsage(own);
    const mine = (used.user + used.system) / 1e6;
    const srv = server && tree ? cpuBetween(tree, snapshotTree(server.pid)).seconds : 0;
    const all = machineBusySeconds() - machine;
    const pct = (s: number) => `${((100 * s) / wall).toFixed(0)} %`;
    return `CPU over ${wall.toFixed(1)} s: machine ${pct(all)}, server ${pct(srv)}, benchmark ${pct(mine)}, other ${pct(Math.max(0, all - srv - mine))} (of one core; ${cpus().length} cores)`;
  };
}

const state = mkdtempSync(path.join(tmpdir(), 'witness-activity-search-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killServers();
    if (!values.keep) rmSync(state, { recursive: true, force: true });
    process.exit(130);
  });
}
const secrets = { apiKey: `bench-${randomBytes(12).toString('hex')}`, adminPassword: randomBytes(12).toString('hex') };
let server: WitnessServer | null = null;
const runStarted = Date.now();

try {
  await warnIfMachineBusy();
  const load = loadavg().map((l) => l.toFixed(2));
  log(`server code in ${serverRoot}; load average ${load.join(' ')}; state in ${state}`);
  const vocabulary = buildVocabulary(SEED);
  const plans = planSessions(vocabulary, SESSIONS, EVENTS, SEED, () => SESSION_SPAN_MS);
  log(`corpus: ${EVENTS} events over ${SESSIONS} sessions, vocabulary of ${vocabulary.size} words`);

  // 1. The server, fresh state, and the sessions.
  server = await startWitness(state, secrets);
  let api: Api = { baseUrl: server.baseUrl, apiKey: secrets.apiKey };
  const launchStarted = performance.now();
  const launchedAt = Date.now();
  const sessions = await inBatches(plans, CONCURRENCY, (plan) => launch(api, plan.user, plan.target));
  const launchSeconds = (performance.now() - launchStarted) / 1000;
  log(`launched ${sessions.length} sessions in ${launchSeconds.toFixed(1)} s`);

  // 2. Ingest through the API: the measured part, then the rest too if it fits the budget.
  const ingest = async (from: number, to: number) => {
    const jobs = plans.slice(from, to).flatMap((plan, i) =>
      batchesOf(sessionEvents(vocabulary, plan), API_BATCH).map((events, batch) => ({
        session: sessions[from + i] as { sessionId: string; token: string },
        batch,
        events,
      })),
    );
    const meter = cpuMeter(server);
    const started = performance.now();
    const results = await inBatches(jobs, CONCURRENCY, (job) => postBatch(api, job.session, job.batch, job.events));
    const seconds = (performance.now() - started) / 1000;
    const stored = results.reduce((n, r) => n + r.ack.stored, 0);
    const rejected = results.reduce((n, r) => n + r.ack.rejected.length, 0);
    if (rejected)
      throw new Error(
        `the API refused ${rejected} generated events: ${JSON.stringify(results.find((r) => r.ack.rejected.length)?.ack.rejected[0])}`,
      );
    return { batches: jobs.length, stored, seconds, latencies: results.map((r) => r.ms), cpu: meter() };
  };
  const measured = await ingest(0, API_SESSIONS);
  const apiRate = measured.stored / measured.seconds;
  log(
    `API ingest: ${measured.stored} events in ${measured.batches} batches of ≤${API_BATCH}, ${measured.seconds.toFixed(1)} s → ${apiRate.toFixed(0)} events/s; batch p50 ${ms(p(measured.latencies, 50))}, p99 ${ms(p(measured.latencies, 99))}`,
  );
  log(`  ${measured.cpu}`);
  const remainingEvents = plans.slice(API_SESSIONS).reduce((n, plan) => n + plan.events, 0);
  const projectedSeconds = remainingEvents / apiRate;
  const fitsBudget =
    projectedSeconds <= API_BUDGET_S && Date.now() + projectedSeconds * 1000 < launchedAt + TOKEN_MARGIN_MS;
  let continued: Awaited<ReturnType<typeof ingest>> | null = null;
  if (remainingEvents > 0 && fitsBudget) {
    log(
      `the remaining ${remainingEvents} events would take ~${projectedSeconds.toFixed(0)} s: sending them through the API`,
    );
    continued = await ingest(API_SESSIONS, SESSIONS);
    log(
      `  ${continued.stored} more events in ${continued.seconds.toFixed(1)} s (${(continued.stored / continued.seconds).toFixed(0)} events/s)`,
    );
    log(`  ${continued.cpu}`);
  } else if (remainingEvents > 0) {
    log(
      `the remaining ${remainingEvents} events would take ~${projectedSeconds.toFixed(0)} s through the API (budget ${API_BUDGET_S} s): bulk-loading them`,
    );
  }
  await server.stop();
  server = null;

  // 3. Bulk load into the stopped server's D1 file, then pick the queries from what is stored.
  const dbFile = localD1File(state);
  const search = await loadServerCode();
  let bulk: { stored: number; seconds: number } | null = null;
  let queries: SearchQuery[];
  {
    const db = openDatabase(dbFile);
    try {
      if (remainingEvents > 0 && !continued) {
        const bulkSessions = plans.slice(API_SESSIONS).map((plan, i) => ({
          id: (sessions[API_SESSIONS + i] as { sessionId: string }).sessionId,
          events: sessionEvents(vocabulary, plan),
        }));
        const started = performance.now();
        const stored = bulkLoad(db, search, bulkSessions, BULK_BATCH);
        bulk = { stored, seconds: (performance.now() - started) / 1000 };
        log(
          `bulk load (node:sqlite, one transaction per ${BULK_BATCH}-event batch, FTS5 triggers): ${stored} events in ${bulk.seconds.toFixed(1)} s → ${(stored / bulk.seconds).toFixed(0)} events/s`,
        );
      }
      const counted = db
        .prepare(
          'SELECT (SELECT count(*) FROM activity) AS events, (SELECT count(*) FROM activity_search_keys) AS indexed, (SELECT count(DISTINCT session_id) FROM activity) AS sessions',
        )
        .get() as { events: number; indexed: number; sessions: number };
      log(
        `stored: ${counted.events} events in ${counted.sessions} sessions, ${counted.indexed} in the FTS5 index; D1 file ${bytes(statSync(dbFile).size)}`,
      );
      if (counted.events !== EVENTS || counted.indexed !== EVENTS)
        throw new Error('the database does not hold every event');
      const referenceStarted = performance.now();
      buildReferenceIndex(db);
      log(
        `reference index (bench_reference, untimed for search) built in ${((performance.now() - referenceStarted) / 1000).toFixed(1)} s`,
      );
      const started = performance.now();
      queries = chooseQueries(
        db,
        vocabulary,
        referencePhrase,
        { perKind: Number(values['per-kind']), twoWords: Number(values['two-words']), absent: Number(values.absent) },
        SEED,
      );
      log(`chose ${queries.length} queries in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      db.close();
    }
  }

  // 4. The server again, on the same state: end every session (as searched sessions usually are, and so no
  //    launch deadline fires mid-measurement), then search through the API.
  server = await startWitness(state, secrets);
  api = { baseUrl: server.baseUrl, apiKey: secrets.apiKey };
  await inBatches(sessions, CONCURRENCY, (s) => terminate(api, s.sessionId));
  const settleBy = Date.now() + 5 * 60_000;
  while (true) {
    const states = await sessionStates(api);
    const open = states.filter(
      (s) => s.status !== 'ended' || s.recording === 'recording' || s.recording === 'finalizing',
    );
    if (open.length === 0) break;
    if (Date.now() > settleBy) throw new Error(`${open.length} sessions still not ended and sealed after 5 minutes`);
    await sleep(2000);
  }
  log('every session ended and sealed');
  const warmup = ['usr', 'prod', 'restart', 'xterm', 'nothing-here'];
  for (const q of warmup) await searchApi(api, q, WITHIN);
  const apiTimes = new Map<string, number[]>();
  const apiReplies = new Map<string, SearchReply>();
  const apiMeter = cpuMeter(server);
  for (let round = 0; round < ROUNDS; round++) {
    for (const query of queries) {
      const { reply, ms: took } = await searchApi(api, query.q, WITHIN);
      apiTimes.set(query.q, [...(apiTimes.get(query.q) ?? []), took]);
      apiReplies.set(query.q, reply);
    }
  }
  const apiCpu = apiMeter();
  log(`API search: ${queries.length * ROUNDS} requests, one at a time`);
  log(`  ${apiCpu}`);
  await server.stop();
  server = null;

  // 5. The same search code on the file (engine time), and the LIKE baseline, with the server stopped.
  const engineTimes = new Map<string, number[]>();
  const engineFound = new Map<string, Map<string, ActivityMatch[]>>();
  /** Sessions the engine lists when paging through every page (untimed), per query. */
  const engineAllPages = new Map<string, { sessions: number; pages: number; distinct: boolean; expected: number }>();
  const likeTimes = new Map<string, number>();
  const likeFound = new Map<string, number>();
  let plans_: { fts: string[][]; like: string[] };
  let sizes: Array<{ name: string; bytes: number }>;
  {
    const db = openDatabase(dbFile);
    try {
      const d1 = asD1(db);
      for (const q of warmup) await search.searchSessions([d1], q, WITHIN, SEARCH_OPTIONS);
      for (let round = 0; round < ROUNDS; round++) {
        for (const query of queries) {
          const started = performance.now();
          const found = await search.searchSessions([d1], query.q, WITHIN, SEARCH_OPTIONS);
          engineTimes.set(query.q, [...(engineTimes.get(query.q) ?? []), performance.now() - started]);
          engineFound.set(query.q, found.sessions);
        }
      }
      log('engine (server search code on node:sqlite): done');
      // Recall: follow nextCursor to the end for every query (not timed); each matching session, once.
      for (const query of queries) {
        const ids: string[] = [];
        let pages = 0;
        for (let cursor: string | null = null; pages === 0 || cursor; pages++) {
          const page = await search.searchSessions([d1], query.q, WITHIN, { ...SEARCH_OPTIONS, cursor });
          ids.push(...page.sessions.keys());
          cursor = page.nextCursor;
        }
        engineAllPages.set(query.q, {
          sessions: ids.length,
          pages,
          distinct: new Set(ids).size === ids.length,
          expected: referenceSessions(db, query.q, WITHIN),
        });
      }
      const timedNext: number[] = [];
      for (const query of queries.filter((q) => q.kind === 'common')) {
        const first = await search.searchSessions([d1], query.q, WITHIN, SEARCH_OPTIONS);
        const started = performance.now();
        await search.searchSessions([d1], query.q, WITHIN, { ...SEARCH_OPTIONS, cursor: first.nextCursor });
        timedNext.push(performance.now() - started);
      }
      log(
        `engine, second page of common words: p50 ${ms(p(timedNext, 50))}, p95 ${ms(p(timedNext, 95))} (${timedNext.length} queries)`,
      );
      const likeMeter = cpuMeter(null);
      for (const query of queries) {
        const started = performance.now();
        const found = likeSearch(db, query.q, WITHIN);
        likeTimes.set(query.q, performance.now() - started);
        likeFound.set(query.q, found.size);
      }
      log(`LIKE baseline: done; ${likeMeter()}`);
      // The statements the server runs, as it runs them, and their plans.
      const seen: Array<{ sql: string; params: Parameters<typeof queryPlan>[2] }> = [];
      const common = queries.find((q) => q.kind === 'common') ?? (queries[0] as SearchQuery);
      await search.searchSessions(
        [asD1(db, (sql, params) => seen.push({ sql, params }))],
        common.q,
        WITHIN,
        SEARCH_OPTIONS,
      );
      plans_ = {
        fts: seen.map((s) => [`-- ${s.params.join(', ')}`, ...queryPlan(db, s.sql, s.params)]),
        like: queryPlan(
          db,
          "SELECT id FROM activity WHERE type IN ('keys') AND (text LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 1000",
          ['%x%'],
        ),
      };
      sizes = storageSizes(db);
    } finally {
      db.close();
    }
  }

  // 6. The report.
  const apiAll = [...apiTimes.values()].flat();
  const engineAll = [...engineTimes.values()].flat();
  const likeAll = [...likeTimes.values()];
  const kinds: QueryKind[] = ['rare', 'medium', 'common', 'two words', 'absent'];
  const median = (xs: number[]) => p(xs, 50);
  const rows = (kind: QueryKind | null) => queries.filter((q) => kind === null || q.kind === kind);
  const line = (label: string, kind: QueryKind | null) => {
    const qs = rows(kind);
    const api_ = qs.flatMap((q) => apiTimes.get(q.q) ?? []);
    const eng = qs.flatMap((q) => engineTimes.get(q.q) ?? []);
    const like = qs.map((q) => likeTimes.get(q.q) as number);
    return [
      label,
      String(qs.length),
      `${median(qs.map((q) => q.rows))} / ${median(qs.map((q) => q.sessions))}`,
      String(median(qs.map((q) => apiReplies.get(q.q)?.sessions.length ?? 0))),
      `${ms(p(api_, 50))} / ${ms(p(api_, 95))} / ${ms(p(api_, 99))}`,
      `${ms(p(eng, 50))} / ${ms(p(eng, 95))} / ${ms(p(eng, 99))}`,
      `${ms(p(like, 50))} / ${ms(p(like, 95))} / ${ms(p(like, 99))}`,
      `${(p(like, 95) / p(eng, 95)).toFixed(0)}×`,
    ];
  };
  console.log(
    `\nQueries (in=${WITHIN.join(',')}; rare < ${RARE_BELOW} matching events ≤ medium < ${COMMON_FROM} ≤ common):\n`,
  );
  console.log(
    table([
      [
        'queries',
        'n',
        'matched events / sessions (median)',
        'API sessions returned (median)',
        'API p50/p95/p99',
        'engine (FTS5) p50/p95/p99',
        'LIKE p50/p95/p99',
        'LIKE/FTS p95',
      ],
      ...kinds.filter((k) => rows(k).length).map((k) => line(k, k)),
      line('all', null),
    ]),
  );
  // Consistency: the API lists the sessions the engine found, in the same order.
  const inconsistent = queries.filter(
    (q) =>
      JSON.stringify(apiReplies.get(q.q)?.sessions.map((x) => x.id)) !==
      JSON.stringify([...(engineFound.get(q.q)?.keys() ?? [])]),
  );
  // Recall: paging to the end lists every session that has a match, once.
  const incomplete = queries.filter((q) => {
    const all = engineAllPages.get(q.q);
    return !all?.distinct || all.sessions !== all.expected;
  });
  const recall = queries
    .filter((q) => q.kind === 'common')
    .map(
      (q) =>
        `${q.q}: ${engineAllPages.get(q.q)?.sessions ?? 0} of ${engineAllPages.get(q.q)?.expected ?? 0} in ${engineAllPages.get(q.q)?.pages ?? 0} pages`,
    );
  const slowest = [...queries]
    .sort((a, b) => p(apiTimes.get(b.q) ?? [], 50) - p(apiTimes.get(a.q) ?? [], 50))
    .slice(0, 8)
    .map((q) => [
      q.q,
      q.kind,
      String(q.rows),
      ms(p(apiTimes.get(q.q) ?? [], 50)),
      ms(p(engineTimes.get(q.q) ?? [], 50)),
      ms(likeTimes.get(q.q) as number),
    ]);
  console.log(
    `\nSlowest through the API:\n\n${table([['query', 'kind', 'matched events', 'API', 'engine', 'LIKE'], ...slowest])}`,
  );
  console.log(
    `\nAPI replies consistent with the engine's result: ${queries.length - inconsistent.length} of ${queries.length}`,
  );
  if (inconsistent.length)
    console.log(
      `  differ: ${inconsistent
        .slice(0, 5)
        .map((q) => q.q)
        .join(', ')}`,
    );
  console.log(
    `Paging to the end lists every matching session once: ${queries.length - incomplete.length} of ${queries.length} queries${
      incomplete.length
        ? ` (not: ${incomplete
            .slice(0, 5)
            .map((q) => `${q.q} ${engineAllPages.get(q.q)?.sessions} of ${engineAllPages.get(q.q)?.expected}`)
            .join(', ')})`
        : ''
    }`,
  );
  console.log(
    `Common words, sessions found by paging (of the sessions that contain them): ${recall.slice(0, 8).join('; ')}`,
  );
  console.log(
    `Median sessions the LIKE scan finds (same limit and merge): ${median(queries.map((q) => likeFound.get(q.q) ?? 0))}`,
  );
  console.log('\nThe server search statements (EXPLAIN QUERY PLAN), for a common word:');
  for (const plan of plans_.fts) console.log(plan.map((l) => `  ${l}`).join('\n'));
  console.log(`LIKE baseline plan:\n${plans_.like.map((l) => `  ${l}`).join('\n')}`);
  console.log(`\nStorage: ${sizes.map((s) => `${s.name} ${bytes(s.bytes)}`).join(', ')}`);

  const apiP95 = p(apiAll, 95);
  const engineP95 = p(engineAll, 95);
  const likeP95 = p(likeAll, 95);
  const speedup = likeP95 / engineP95;
  const ingestRow = `${apiRate.toFixed(0)} events/s (${measured.stored} events, batches of ${API_BATCH}, concurrency ${CONCURRENCY}; batch p50 ${ms(p(measured.latencies, 50))}, p99 ${ms(p(measured.latencies, 99))})`;
  const summaryRows: SummaryRow[] = [
    {
      figure: `search p95, ${queries.length * ROUNDS} queries over ${EVENTS} events (API)`,
      witness: ms(apiP95),
      baseline: `LIKE scan ${ms(likeP95)}`,
      goal: `≤ ${GOAL_P95_MS} ms`,
      met: apiP95 <= GOAL_P95_MS,
    },
    {
      figure: 'search p95, engine only (same SQL on the D1 file)',
      witness: ms(engineP95),
      baseline: `LIKE scan ${ms(likeP95)} (${speedup.toFixed(0)}× slower)`,
      goal: `≥ ${GOAL_SPEEDUP}× faster than LIKE`,
      met: speedup >= GOAL_SPEEDUP,
    },
    {
      figure: 'search p95 API vs LIKE engine',
      witness: ms(apiP95),
      baseline: `LIKE scan ${ms(likeP95)} (${(likeP95 / apiP95).toFixed(0)}×)`,
      goal: '',
      met: null,
    },
    { figure: 'event ingest through the API', witness: ingestRow, baseline: '', goal: '', met: null },
  ];
  if (continued) {
    summaryRows.push({
      figure: 'event ingest through the API, the rest',
      witness: `${(continued.stored / continued.seconds).toFixed(0)} events/s (${continued.stored} events; batch p50 ${ms(p(continued.latencies, 50))}, p99 ${ms(p(continued.latencies, 99))})`,
      baseline: '',
      goal: '',
      met: null,
    });
  }
  if (bulk) {
    summaryRows.push({
      figure: 'bulk load (node:sqlite, not the API)',
      witness: `${(bulk.stored / bulk.seconds).toFixed(0)} events/s (${bulk.stored} events)`,
      baseline: '',
      goal: '',
      met: null,
    });
  }
  console.log(
    `\n=== activity search (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, run took ${((Date.now() - runStarted) / 60_000).toFixed(1)} min)\n\n${table(
      [
        ['figure', 'Witness', 'baseline', 'goal', ''],
        ...summaryRows.map((r) => [r.figure, r.witness, r.baseline, r.goal, verdict(r.met)]),
      ],
    )}`,
  );
  console.log(
    `\nLoaded: ${measured.stored + (continued?.stored ?? 0)} events through the ingest API (${API_SESSIONS + (continued ? SESSIONS - API_SESSIONS : 0)} sessions), ${bulk?.stored ?? 0} bulk-loaded into the D1 file (${bulk ? SESSIONS - API_SESSIONS : 0} sessions).`,
  );
  writeSummary(values.summary, { bench: 'activity-search', rows: summaryRows });
} finally {
  await server?.stop();
  if (values.keep) console.log(`state kept in ${state}`);
  else rmSync(state, { recursive: true, force: true });
}
