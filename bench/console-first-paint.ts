/**
 * The recording page's activity parts with an 8-hour session of 200,000 events: Debian Chromium renders the
 * console's real ActivityGrid, ActivityMap and AtPlayheadFacts (built with Vite into a small test page) over
 * the events, measures the first paint (render to the next frame), then plays at 16× for a few seconds and
 * measures each update of the grid and the map in the page (`activity-grid-update`, `activity-map-update`:
 * performance.now() from the player's state change to the component's commit) and long tasks.
 * Baseline in the same run: main's grid as committed (`git show HEAD:client/src/watch/activity-grid.tsx`,
 * frozen into the page: every row rendered, no follow), beside the same map.
 *
 * The events are made here, not read from the server (an ingest session's clock accepts events only near
 * its media, so an 8-hour session needs 8 hours of media): what is measured is the console's work on them.
 *
 *   node bench/console-first-paint.ts [--events 200000] [--hours 8] [--play-seconds 5] [--summary FILE]
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import preact from '@preact/preset-vite';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { warnIfMachineBusy } from './lib/cpu.ts';
import { root } from './lib/servers.ts';
import { ms, percentile, table } from './lib/stats.ts';
import { type SummaryRow, verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    hours: { type: 'string', default: '8' },
    'play-seconds': { type: 'string', default: '5' },
    summary: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/console-first-paint.ts [--events 200000] [--hours 8] [--play-seconds 5]');
  process.exit(0);
}
const EVENTS = Number(values.events);
const SPAN_MS = Number(values.hours) * 3_600_000;
const PLAY_MS = Number(values['play-seconds']) * 1000;
/** Goals (#17 item 3): first paint within a second; an update within a frame at 60 Hz. */
const FIRST_PAINT_GOAL_MS = 1000;
const FRAME_MS = 16.7;

/** Builds a page with `window.mount({ variant, events, spanMs })` and `window.play16(ms)`. */
async function buildPage(): Promise<string> {
  const dir = path.join(root, 'node_modules/.cache/witness-console-first-paint');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const src = (file: string) => JSON.stringify(path.join(root, 'client/src', file));
  // The baseline: the grid as main has it, beside this checkout's modules it imports.
  const baseline = execFileSync('git', ['show', 'HEAD:client/src/watch/activity-grid.tsx'], {
    cwd: root,
    encoding: 'utf8',
  })
    .replaceAll("'../activity.ts'", src('activity.ts'))
    .replaceAll("'../format.ts'", src('format.ts'));
  writeFileSync(path.join(dir, 'baseline-grid.tsx'), baseline);
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"></head><body><main style="width:1400px">' +
      '<div id="app"></div></main><script type="module" src="./main.js"></script></body></html>',
  );
  writeFileSync(
    path.join(dir, 'main.js'),
    `import { h, render } from 'preact';
import { ActivityGrid } from ${src('watch/activity-grid.tsx')};
import { ActivityGrid as BaselineGrid } from './baseline-grid.tsx';
import { ActivityMap } from ${src('watch/activity-map.tsx')};
import { AtPlayheadFacts } from ${src('watch/at-playhead.tsx')};
import ${src('style.css')};
/** A player core's surface as the parts use it: its state, its events, seek. Plays on animation frames. */
function fakeCore() {
  const listeners = new Map();
  const core = {
    state: { playing: false, currentMs: 0, durationMs: null, speed: 1, seeking: false, waiting: false, ended: false, skipInactivity: false, error: null },
    on(type, fn) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type).add(fn);
      return () => listeners.get(type).delete(fn);
    },
    emit(type, detail) { for (const fn of listeners.get(type) ?? []) fn(detail); },
    seek(ms) { core.state = { ...core.state, currentMs: ms }; core.emit('state', core.state); },
  };
  return core;
}
const host = document.getElementById('app');
const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
let core = fakeCore();
let longTasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
function density(events, spanMs, count) {
  const bucketMs = Math.ceil(spanMs / count);
  const buckets = Array.from({ length: count }, (_, i) => ({ startMs: i * bucketMs, screenBytes: 0, keystrokes: 0, processEvents: 0, windowChanges: 0 }));
  for (const e of events) {
    const b = buckets[Math.min(count - 1, Math.floor(e.offsetMs / bucketMs))];
    if (e.type === 'keys') b.keystrokes += e.text.length;
    else if (e.type === 'window.focus') b.windowChanges++;
    else b.processEvents++;
  }
  return { durationMs: spanMs, bucketMs, buckets };
}
window.mount = async ({ variant, events, spanMs }) => {
  render(null, host);
  await frame();
  core = fakeCore();
  const map = density(events, spanMs, 1200);
  const started = performance.now();
  const grid = variant === 'witness'
    ? h(ActivityGrid, { core, events, selectedId: null, onSelect: () => {}, label: 'Activity' })
    : h('div', { class: 'grid-scroll' }, h(BaselineGrid, { events, selectedId: null, onSelect: () => {}, label: 'Activity' }));
  render(h('div', { class: 'watch-body' },
    h('div', { class: 'watch-main' }, variant === 'witness' ? h(AtPlayheadFacts, { core, events }) : null,
      h(ActivityMap, { core, density: map, spanMs, matches: [], events })),
    h('aside', { class: 'watch-side' }, grid)), host);
  await frame();
  return performance.now() - started;
};
window.play16 = async (playMs) => {
  performance.clearMeasures();
  longTasks = [];
  core.state = { ...core.state, playing: true, speed: 16 };
  core.emit('play');
  const started = performance.now();
  let last = started;
  while (performance.now() - started < playMs) {
    await frame();
    const now = performance.now();
    // The core's time event, every 100 ms of wall time (TIME_TICK_MS), 16 times as far on the session clock.
    if (now - last >= 100) {
      core.state = { ...core.state, currentMs: core.state.currentMs + (now - last) * 16 };
      last = now;
      core.emit('time', { currentMs: core.state.currentMs });
      core.emit('state', core.state);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const of = (name) => performance.getEntriesByName(name).map((e) => e.duration);
  return { grid: of('activity-grid-update'), map: of('activity-map-update'), longTasks };
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
    if (!file.startsWith(dir) || !existsSync(file)) return void res.writeHead(404).end();
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

/** 200,000 events over 8 hours as an admin's day looks: mostly keystroke runs, programs, window changes. */
function events(count: number): unknown[] {
  const apps = ['xterm', 'firefox', 'code', 'psql'];
  return Array.from({ length: count }, (_, i) => {
    const base = {
      id: i + 1,
      offsetMs: Math.floor((i * SPAN_MS) / count),
      endMs: null,
      text: null,
      app: null,
      title: null,
      name: null,
      path: null,
      user: 'alice',
      pid: null,
      ppid: null,
      redacted: false,
    };
    switch (i % 10) {
      case 7:
        return { ...base, type: 'process.start', pid: 1000 + i, name: 'vim', path: '/usr/bin/vim', text: 'vim notes' };
      case 8:
        return { ...base, type: 'process.stop', pid: 1000 + i - 1, name: 'vim', path: '/usr/bin/vim' };
      case 9:
        return { ...base, type: 'window.focus', title: `window ${i % 13}`, app: apps[i % apps.length] };
      default:
        return { ...base, type: 'keys', text: `sudo systemctl status nginx ${i}<Enter>` };
    }
  });
}

console.log(`Activity grid and map: ${EVENTS} events over ${values.hours} h, 16× play for ${PLAY_MS / 1000} s`);
await warnIfMachineBusy();
const page = await serve(await buildPage());
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
interface Run {
  variant: string;
  firstPaint: number;
  grid: number[];
  map: number[];
  longTasks: number[];
}
const runs: Run[] = [];
try {
  const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await tab.goto(page.url);
  await tab.waitForFunction(() => 'mount' in globalThis);
  const data = events(EVENTS);
  for (const variant of ['baseline', 'witness']) {
    const firstPaint = await tab.evaluate(
      (args) => (globalThis as unknown as { mount: (a: unknown) => Promise<number> }).mount(args),
      { variant, events: data, spanMs: SPAN_MS },
    );
    const played = await tab.evaluate(
      (playMs) =>
        (globalThis as unknown as { play16: (m: number) => Promise<Omit<Run, 'variant' | 'firstPaint'>> }).play16(
          playMs,
        ),
      PLAY_MS,
    );
    runs.push({ variant, firstPaint, ...played });
  }
} finally {
  await browser.close();
  page.close();
}
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
console.log(
  `\n${table([
    ['page', 'first paint', 'grid updates', 'grid p95', 'grid max', 'map updates', 'map p95', 'long tasks'],
    ...runs.map((r) => [
      r.variant === 'witness' ? 'this checkout' : "main's grid (HEAD)",
      ms(r.firstPaint),
      String(r.grid.length),
      r.grid.length ? ms(percentile(sorted(r.grid), 95)) : '-',
      r.grid.length ? ms(Math.max(...r.grid)) : '-',
      String(r.map.length),
      ms(percentile(sorted(r.map), 95)),
      String(r.longTasks.length),
    ]),
  ])}`,
);
const [base, mine] = runs as [Run, Run];
const gridP95 = percentile(sorted(mine.grid), 95);
const mapP95 = percentile(sorted(mine.map), 95);
const rows: SummaryRow[] = [
  {
    figure: `first paint, grid + map of ${EVENTS} events`,
    witness: ms(mine.firstPaint),
    baseline: `${ms(base.firstPaint)} (main's grid)`,
    goal: `≤ ${FIRST_PAINT_GOAL_MS} ms`,
    met: mine.firstPaint <= FIRST_PAINT_GOAL_MS,
  },
  {
    figure: 'grid + map update p95 at 16×',
    witness: ms(gridP95 + mapP95),
    baseline: `${ms(percentile(sorted(base.map), 95))} (main: map only, its grid does not follow)`,
    goal: `< ${FRAME_MS} ms`,
    met: gridP95 + mapP95 < FRAME_MS,
  },
];
for (const row of rows) console.log(`${row.figure}: ${row.witness} (baseline ${row.baseline}) ${verdict(row.met)}`);
writeSummary(values.summary, { bench: 'console-first-paint', rows });
