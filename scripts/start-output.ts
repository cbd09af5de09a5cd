/**
 * What `npm start` shows and what it keeps (scripts/start.ts). A healthy start fits on one screen: what was
 * applied, where the console is, the admin account framed so it can't be missed. Everything the tools it runs
 * print (vite, wrangler's migrations tables, wrangler dev, the processor) goes to a log file named on screen;
 * `--verbose` shows that on screen too. What reaches the screen from wrangler dev is what is not its known
 * chatter: a Worker's own `console.error`, a build error, anything new, each with a timestamp.
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, type WriteStream } from 'node:fs';
import path from 'node:path';

/** Wrangler's lines that say nothing a person starting Witness needs (they stay in the log file). */
const CHATTER: RegExp[] = [
  /^\s*$/,
  // Its tables and banners: the migrations table is printed once per migration.
  /^\s*[│├┌└─┬┴┼]/,
  /^\s*⛅️/,
  /^Resource location: /,
  /^Use --remote /,
  /^Migrations to be applied:/,
  /^\? About to apply/,
  /^Your database may not be available/,
  /^🤖 /,
  /^🌀 /,
  /^🚣 /,
  /^✅ No migrations to apply/,
  /^Using secrets defined in /,
  /^Your Worker has access to the following bindings:/,
  /^Binding\s+Resource\s+Mode/,
  /^env\.\S+ /,
  /^\[wrangler:info\]/,
  /^⎔ /,
  // Offline: the `Request.cf` fetch and the update check fail with a stack trace each time.
  /Unable to fetch the `Request\.cf` object/,
  /getaddrinfo (ENOTFOUND|EAI_AGAIN)/,
  /^\s+at /,
  /update available|newer version of wrangler/i,
];

/** Whether a line wrangler (or vite) printed belongs on the screen of a healthy start. */
export function worthShowing(line: string): boolean {
  return !CHATTER.some((pattern) => pattern.test(line));
}

/**
 * What `wrangler d1 migrations apply` did, from its output: the names of the migrations it applied (its first
 * table lists them), or an empty list when there were none to apply. Null when the output says neither.
 */
export function appliedMigrations(output: string): string[] | null {
  if (/No migrations to apply/.test(output)) return [];
  const start = output.indexOf('Migrations to be applied:');
  if (start < 0) return null;
  const end = output.indexOf('About to apply', start);
  const table = output.slice(start, end < 0 ? undefined : end);
  return [...table.matchAll(/│\s*(\d{4}_[\w.-]+?)\.sql\s*│/g)].map((match) => match[1] as string);
}

/** `lines` in a box, two spaces in from the margin. */
export function framed(lines: string[]): string {
  const width = Math.max(...lines.map((line) => line.length));
  const bar = '─'.repeat(width + 4);
  return [`  ┌${bar}┐`, ...lines.map((line) => `  │  ${line.padEnd(width)}  │`), `  └${bar}┘`].join('\n');
}

/** A log line's prefix: the same UTC timestamp the agents' loggers print. */
export function stamp(now = new Date()): string {
  return now.toISOString();
}

export interface StartOutput {
  /** The log file everything goes to. */
  readonly file: string;
  /** A line for the screen (and the log), timestamped. */
  say(message: string): void;
  /** Printed as is (a framed block): on screen and in the log. */
  block(text: string): void;
  /** What a tool printed: to the log, with its source; on screen when `--verbose` or when `show` says so. */
  tool(source: string, text: string, show?: (line: string) => boolean): void;
  /** A stream-like writer for a child's output, line by line, as `tool` does. */
  lines(source: string, show?: (line: string) => boolean): (chunk: Buffer | string) => void;
}

/**
 * Opens the log at `file` (the previous run's is kept beside it as `<file>.1`). `verbose` puts every line of
 * every tool on screen too.
 */
export function startOutput(file: string, verbose: boolean): StartOutput {
  mkdirSync(path.dirname(file), { recursive: true });
  if (existsSync(file)) renameSync(file, `${file}.1`);
  const log: WriteStream = createWriteStream(file, { flags: 'w', mode: 0o600 });
  const screen = (line: string) => process.stdout.write(`${line}\n`);
  const output: StartOutput = {
    file,
    say(message) {
      const line = `${stamp()} [witness] ${message}`;
      screen(line);
      log.write(`${line}\n`);
    },
    block(text) {
      screen(text);
      log.write(`${text}\n`);
    },
    tool(source, text, show = () => false) {
      for (const raw of text.split(/\r?\n/)) {
        const line = raw.replace(/\s+$/, '');
        // The agents stamp their own lines (agents/launcher/src/log.ts); the rest get one here.
        const entry = /^\d{4}-\d\d-\d\dT[\d:.]+Z /.test(line) ? line : `${stamp()} [${source}] ${line}`;
        log.write(`${entry}\n`);
        if (verbose || (line && show(line))) screen(entry);
      }
    },
    lines(source, show) {
      let pending = '';
      return (chunk) => {
        pending += chunk.toString();
        const end = pending.lastIndexOf('\n');
        if (end < 0) return;
        output.tool(source, pending.slice(0, end), show);
        pending = pending.slice(end + 1);
      };
    },
  };
  return output;
}
