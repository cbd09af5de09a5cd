/**
 * The console's initial JavaScript: what a browser downloads before the first page shows (the entry script
 * and the chunks index.html preloads), gzipped, beside the 60 KB budget. Pages loaded on demand (users, the
 * players) are listed apart. Builds the console first, as `npm run build` does.
 *
 *   node bench/console-bundle.ts [--skip-build] [--summary FILE]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { root } from './lib/servers.ts';
import { table } from './lib/stats.ts';
import { verdict, writeSummary } from './lib/summary.ts';

const { values } = parseArgs({
  options: {
    'skip-build': { type: 'boolean', default: false },
    summary: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/console-bundle.ts [--skip-build] [--summary FILE]');
  process.exit(0);
}
const BUDGET = 60 * 1024;
const dist = path.join(root, 'dist/client');

if (!values['skip-build']) {
  const vite = path.join(root, 'node_modules/.bin/vite');
  const built = spawnSync(vite, ['build', '--config', 'client/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
const initial = [
  ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
  ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
].map((m) => (m[1] as string).replace(/^\//, ''));
const gzipped = (file: string) => gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).byteLength;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

const lazy = readdirSync(path.join(dist, 'assets'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => `assets/${f}`)
  .filter((f) => !initial.includes(f));
const total = initial.reduce((sum, f) => sum + gzipped(f), 0);

console.log(
  table([
    ['file', 'loaded', 'bytes', 'gzipped'],
    ...initial.map((f) => [f, 'at start', kb(readFileSync(path.join(dist, f)).byteLength), kb(gzipped(f))]),
    ...lazy.map((f) => [f, 'on demand', kb(readFileSync(path.join(dist, f)).byteLength), kb(gzipped(f))]),
  ]),
);
const met = total <= BUDGET;
console.log(`\ninitial JavaScript, gzipped: ${kb(total)} (budget ${kb(BUDGET)}) ${verdict(met)}`);
writeSummary(values.summary, {
  bench: 'console-bundle',
  rows: [{ figure: 'initial JS, gzipped', witness: kb(total), baseline: '-', goal: `≤ ${kb(BUDGET)}`, met }],
});
