/**
 * Builds the launcher's process-event helper (proc-events.c) into native/build/ (git-ignored). Run by
 * `npm run build`; on a machine without a C compiler, or not on Linux, it says so and leaves the launcher to
 * poll /proc (docs/launcher.md, "Processes").
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../src/which.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE = join(here, 'proc-events.c');
export const OUTPUT = join(here, 'build', 'witness-proc-events');

/** Builds the helper unless it is newer than its source; returns its path, or null with the reason. */
export function buildProcEvents(): { path: string } | { path: null; reason: string } {
  if (process.platform !== 'linux') return { path: null, reason: 'not Linux (the helper is for Linux only)' };
  const compiler = process.env.CC || findExecutable('cc') || findExecutable('gcc') || findExecutable('clang');
  if (!compiler) return { path: null, reason: 'no C compiler (cc, gcc or clang; Debian: apt-get install gcc)' };
  try {
    if (statSync(OUTPUT).mtimeMs >= statSync(SOURCE).mtimeMs) return { path: OUTPUT };
  } catch {
    // not built yet
  }
  mkdirSync(dirname(OUTPUT), { recursive: true });
  const run = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-o', OUTPUT, SOURCE], { encoding: 'utf8' });
  if (run.status !== 0)
    return { path: null, reason: `${compiler} failed: ${(run.stderr || run.error?.message) ?? ''}` };
  return { path: OUTPUT };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = buildProcEvents();
  if ('reason' in built)
    console.log(`witness-proc-events not built: ${built.reason}; the launcher will poll /proc instead`);
  else console.log(`witness-proc-events: ${built.path}`);
}
