/**
 * The activity map with 20,000 events, without jank: Debian Chromium renders the console's real ActivityMap
 * component (client/src/watch/activity-map.tsx, built with Vite into a small test page) with what the real
 * server (scripts/start.ts → wrangler dev) returns for a session that holds 20,000 events, ingested through
 * `POST /ingest/v1/…/events/{batch}`: its activity map buckets (`…/activity/density`) and its search matches
 * (`…/activity?q=…`, as many as the recording page shows). Measures per render: the canvas draw (the
 * component's own `activity-map-draw` measure), render to the next frame, and long tasks (PerformanceObserver
 * 'longtask', > 50 ms). Baseline in the same run: a session with 200 events.
 *
 *   node bench/console-map.ts [--events 20000] [--baseline-events 200] [--renders 30] [--summary FILE]
 */
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import preact from '@preact/preset-vite';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import type { ActivityEvent } from '../protocol/activity.ts';
import { launch, postBatch } from './activity/api.ts';
import { warnIfMachineBusy } from './lib/cpu.ts';
import { describeServerCode, root, startWitness } from './lib/servers.ts';
import { ms, percentile, table } from './lib/stats.ts';
import { type SummaryRow, verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    'baseline-events': { type: 'string', default: '200' },
    renders: { type: 'string', default: '30' },
    summary: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/console-map.ts [--events 20000] [--baseline-events 200] [--renders 30]');
  process.exit(0);
}
const EVENTS = Number(values.events);
const BASELINE_EVENTS = Number(values['baseline-events']);
const RENDERS = Number(values.renders);
/** The recording page asks for one bucket per map pixel; this is a 1200 px wide map. */
const BUCKETS = 1200;
/** client/src/watch/recording-page.tsx MATCH_LIMIT. */
const MATCH_LIMIT = 500;
/** A frame at 60 Hz: a draw longer than this drops frames. */
const FRAME_MS = 16.7;
/** A pending session's clock accepts events up to 5 minutes in (EVENT_CLOCK_SLACK_MS). */
const SPAN_MS = 290_000;
const WORDS = ['ls', 'cd /var/log', 'sudo systemctl restart nginx', 'deploy release', 'tail -f app.log', 'vim'];

function events(count: number): ActivityEvent[] {
  return Array.from({ length: count }, (_, i): ActivityEvent => {
    const atMs = Math.floor((i * SPAN_MS) / count);
    const window = { title: 'root@db-01: ~', app: 'xterm' };
    switch (i % 10) {
      case 7:
        return {
          type: 'process.start',
          atMs,
          pid: 1000 + i,
          name: 'vim',
          path: '/usr/bin/vim',
          commandLine: 'vim',
          user: 'root',
        };
      case 8:
        return { type: 'process.stop', atMs, pid: 1000 + i - 1, name: 'vim', path: '/usr/bin/vim', user: 'root' };
      case 9:
        return { type: 'window.focus', atMs, title: `terminal ${i % 7}`, app: 'xterm' };
      default:
        return { type: 'keys', atMs, endMs: atMs + 400, text: `${WORDS[i % WORDS.length]}<Enter>`, window };
    }
  });
}

interface MapData {
  label: string;
  events: number;
  density: { durationMs: number; bucketMs: number; buckets: unknown[] };
  matches: unknown[];
}

async function seedSession(api: { baseUrl: string; apiKey: string }, count: number, label: string): Promise<MapData> {
  const session = await launch(api, 'alice', `map-bench-${count}`);
  const all = events(count);
  for (let i = 0, batch = 0; i < all.length; i += 500, batch++) {
    const { ack } = await postBatch(api, session, batch, all.slice(i, i + 500));
    if (ack.rejected.length) throw new Error(`events refused: ${JSON.stringify(ack.rejected.slice(0, 3))}`);
  }
  const get = async (query: string) => {
    const res = await fetch(`${api.baseUrl}/api/v1/sessions/${session.sessionId}/${query}`, {
      headers: { authorization: `Bearer ${api.apiKey}` },
    });
    if (!res.ok) throw new Error(`GET ${query}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const density = (await get(`activity/density?buckets=${BUCKETS}`)) as MapData['density'];
  const matches = ((await get(`activity?q=deploy&limit=${MATCH_LIMIT}`)) as { events: unknown[] }).events;
  return { label, events: count, density, matches };
}

/** Builds a page that mounts the real ActivityMap (and a real PlayerCore) on demand: `window.renderMap`. */
async function buildPage(): Promise<string> {
  // Under node_modules so the page resolves preact from this checkout.
  const dir = path.join(root, 'node_modules/.cache/witness-console-map');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const src = (file: string) => JSON.stringify(path.join(root, 'client/src', file));
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"></head><body><main style="width:1200px;padding:0">' +
      '<div id="app"></div></main><script type="module" src="./main.js"></script></body></html>',
  );
  writeFileSync(
    path.join(dir, 'main.js'),
    `import { h, render } from 'preact';
import { PlayerCore } from ${src('player/core.ts')};
import { ActivityMap } from ${src('watch/activity-map.tsx')};
import ${src('style.css')};
const core = new PlayerCore(document.createElement('video'), { attach() {}, detach() {} });
const host = document.getElementById('app');
const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
let longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) longTasks.push(entry.duration);
}).observe({ type: 'longtask', buffered: true });
window.renderMap = async ({ density, matches }) => {
  render(null, host);
  await frame();
  longTasks = [];
  performance.clearMeasures('activity-map-draw');
  const started = performance.now();
  render(h(ActivityMap, { core, density, spanMs: density.durationMs, matches }), host);
  // The canvas is drawn in an effect after the first frame; wait for it, then for the frame that shows it.
  while (performance.getEntriesByName('activity-map-draw').length === 0) await frame();
  await frame();
  const drawMs = performance.getEntriesByName('activity-map-draw').reduce((sum, e) => sum + e.duration, 0);
  const totalMs = performance.now() - started;
  // Long tasks are reported a little after they end.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { totalMs, drawMs, longTasks };
};
`,
  );
  await build({
    root: dir,
    configFile: false,
    logLevel: 'warn',
    plugins: [preact()],
    build: { outDir: path.join(dir, 'dist'), emptyOutDir: true },
  });
  return path.join(dir, 'dist');
}

function serve(dir: string): Promise<{ url: string; close: () => void }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const file = path.join(
      dir,
      path.normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/$/, '/index.html'),
    );
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}

/** What the page's `renderMap` measures for one render. */
interface PageFigures {
  drawMs: number;
  totalMs: number;
  longTasks: number[];
}

interface Renders {
  data: MapData;
  draw: number[];
  total: number[];
  longTasks: number;
  longestTask: number;
}

console.log(`Activity map: ${EVENTS} events beside ${BASELINE_EVENTS}, ${RENDERS} renders each`);
console.log(`Server: ${describeServerCode()}`);
await warnIfMachineBusy();
const witness = await startWitness();
let datasets: MapData[];
try {
  datasets = [
    await seedSession(witness, BASELINE_EVENTS, `${BASELINE_EVENTS} events`),
    await seedSession(witness, EVENTS, `${EVENTS} events`),
  ];
} finally {
  await witness.stop();
}
const page = await serve(await buildPage());
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const results: Renders[] = [];
try {
  const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await tab.goto(page.url);
  await tab.waitForFunction(() => 'renderMap' in globalThis);
  for (const data of datasets) {
    const run: Renders = { data, draw: [], total: [], longTasks: 0, longestTask: 0 };
    for (let i = 0; i < RENDERS + 3; i++) {
      const figures = await tab.evaluate(
        (d) => (globalThis as unknown as { renderMap: (d: unknown) => Promise<PageFigures> }).renderMap(d),
        data,
      );
      if (i < 3) continue; // warm-up: first compile and layout
      run.draw.push(figures.drawMs);
      run.total.push(figures.totalMs);
      run.longTasks += figures.longTasks.length;
      run.longestTask = Math.max(run.longestTask, ...figures.longTasks);
    }
    run.draw.sort((a, b) => a - b);
    run.total.sort((a, b) => a - b);
    results.push(run);
  }
} finally {
  await browser.close();
  page.close();
}

console.log(
  `\n${table([
    ['map of', 'buckets', 'matches', 'draw p50', 'draw p95', 'render→frame p50', 'p95', 'long tasks', 'longest'],
    ...results.map((r) => [
      r.data.label,
      String(r.data.density.buckets.length),
      String(r.data.matches.length),
      ms(percentile(r.draw, 50)),
      ms(percentile(r.draw, 95)),
      ms(percentile(r.total, 50)),
      ms(percentile(r.total, 95)),
      `${r.longTasks} in ${RENDERS}`,
      r.longTasks ? ms(r.longestTask) : '-',
    ]),
  ])}`,
);
const [base, full] = results as [Renders, Renders];
const rows: SummaryRow[] = [
  {
    figure: `map draw p95, ${EVENTS} events`,
    witness: ms(percentile(full.draw, 95)),
    baseline: `${ms(percentile(base.draw, 95))} at ${BASELINE_EVENTS}`,
    goal: `< ${FRAME_MS} ms (a frame)`,
    met: percentile(full.draw, 95) < FRAME_MS,
  },
  {
    figure: `long tasks per render, ${EVENTS} events`,
    witness: `${full.longTasks} in ${RENDERS}`,
    baseline: `${base.longTasks} in ${RENDERS} at ${BASELINE_EVENTS}`,
    goal: 'none',
    met: full.longTasks === 0,
  },
];
for (const row of rows) console.log(`${row.figure}: ${row.witness} (baseline ${row.baseline}) ${verdict(row.met)}`);
writeSummary(values.summary, { bench: 'console-map', rows });
