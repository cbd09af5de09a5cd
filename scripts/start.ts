/**
 * `npm start`: everything on one machine. Builds the console, applies D1 migrations to the local database,
 * then runs `wrangler dev` (which simulates D1, R2 and Durable Objects, keeping state in .wrangler/state).
 *
 *   npm start -- [--port 8787] [--persist-to DIR]
 *
 * Secrets: WITNESS_TOKEN_SECRET is generated once into .dev.vars; WITNESS_API_KEY, if set in the environment,
 * becomes the bootstrap API key (every scope).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8787' },
    'persist-to': { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
  },
});
const persist = values['persist-to'] ? ['--persist-to', path.resolve(values['persist-to'])] : [];
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`[witness] ${command} ${args.join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
}

function ensureTokenSecret(): void {
  const file = path.join(root, '.dev.vars');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (/^WITNESS_TOKEN_SECRET=.{32,}$/m.test(current)) return;
  const line = `WITNESS_TOKEN_SECRET=${randomBytes(32).toString('hex')}\n`;
  writeFileSync(file, current + (current && !current.endsWith('\n') ? '\n' : '') + line, { mode: 0o600 });
  console.log('[witness] generated WITNESS_TOKEN_SECRET in .dev.vars');
}

ensureTokenSecret();
const wrangler = path.join(root, 'node_modules', '.bin', 'wrangler');
if (!values['skip-build'])
  run(path.join(root, 'node_modules', '.bin', 'vite'), [
    'build',
    '--config',
    'client/vite.config.ts',
    '--logLevel',
    'warn',
  ]);
run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', ...persist]);

const apiKey = process.env.WITNESS_API_KEY ?? '';
if (!apiKey) console.log('[witness] WITNESS_API_KEY is not set: no bootstrap API key, launches will be refused.');
const dev = spawn(
  wrangler,
  [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    values.port,
    '--show-interactive-dev-session=false',
    '--var',
    `WITNESS_API_KEY:${apiKey}`,
    ...persist,
  ],
  { cwd: root, stdio: 'inherit', env },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code) => process.exit(code ?? 0));
