/**
 * Linux process capture: polls /proc and reports processes of the session's user (and descendants of the
 * recorded program, whoever they run as) that start or stop during the session. The launcher's own helpers
 * (ffmpeg, dialogs, xprintidle: its children other than the recorded program) are left out.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_EVENT_TEXT } from '../../../../protocol/activity.ts';
import { redactArgv } from '../../../../protocol/redaction.ts';
import { type CapturedEvent, SESSION_MARKER } from './capture.ts';

export const PROCESS_POLL_MS = 500;
/** /proc/PID/stat times are in clock ticks; USER_HZ is 100 on every Linux architecture we run on. */
const TICKS_PER_SECOND = 100;
const SHORT = 4096;

/** The fields of /proc/PID/stat the watcher uses. */
export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot. */
  startTicks: number;
}

/** Parses /proc/PID/stat; the name is in parentheses and may itself hold spaces and parentheses. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // After the name: state(3) ppid(4) ... starttime(22), counted from 1 with pid and comm.
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(startTicks)) return null;
  return { comm: text.slice(open + 1, close), state: fields[0] ?? '', ppid, startTicks };
}

/** The real uid from /proc/PID/status. */
export function parseUid(status: string): number | null {
  const match = /^Uid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : null;
}

/** argv as a readable command line: arguments with spaces or quotes are single-quoted. */
export function formatCommandLine(argv: string[]): string {
  return argv
    .map((arg) => (arg === '' || /[\s'"\\$`]/.test(arg) ? `'${arg.replaceAll("'", `'\\''`)}'` : arg))
    .join(' ');
}

/** uid → user name from /etc/passwd (numbers for unknown uids). */
export function userNames(passwd: string): (uid: number) => string {
  const names = new Map<number, string>();
  for (const line of passwd.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid && !names.has(Number(uid))) names.set(Number(uid), name);
  }
  return (uid) => names.get(uid) ?? String(uid);
}

interface Tracked {
  startTicks: number;
  ppid: number;
  /** Set once the process was reported as started; only those get a stop. */
  reported: { name: string; path: string; user: string; startedAt: number } | null;
}

export interface ProcessWatcherOptions {
  emit: (event: CapturedEvent) => void;
  /** The session's user: their processes are reported. */
  uid: number;
  /** The launcher itself: its children other than the recorded program are its helpers. */
  launcherPid: number;
  procRoot?: string;
  pollMs?: number;
  now?: () => number;
  userName?: (uid: number) => string;
  /**
   * What makes another process of the user's part of the session: WITNESS_SESSION set to the session (the
   * launcher sets it for the recorded program; what that starts inherits it), or the recorded display in its
   * DISPLAY. Without a scope every process of the user is reported.
   */
  scope?: { display: string | undefined; session: string };
}

/** `:1`, `:1.0` and `localhost:1` are the same display for this purpose: the number counts. */
function displayNumber(display: string): string | null {
  return /:(\d+)(?:\.\d+)?$/.exec(display)?.[1] ?? null;
}

export class ProcessWatcher {
  readonly #options: ProcessWatcherOptions;
  readonly #proc: string;
  readonly #now: () => number;
  readonly #userName: (uid: number) => string;
  #tracked = new Map<number, Tracked>();
  /** Processes of the user that started during the session outside it, and so were not reported. */
  excluded = 0;
  #programPid: number | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: ProcessWatcherOptions) {
    this.#options = options;
    this.#proc = options.procRoot ?? '/proc';
    this.#now = options.now ?? Date.now;
    let passwd = '';
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch {
      // no names: uids are reported as numbers
    }
    this.#userName = options.userName ?? userNames(passwd);
  }

  /** Takes the baseline (processes already running are not reported) and starts polling. */
  start(): void {
    this.poll(true);
    this.#timer = setInterval(() => this.poll(), this.#options.pollMs ?? PROCESS_POLL_MS);
    this.#timer.unref();
  }

  programStarted(pid: number): void {
    this.#programPid = pid;
  }

  /** A last poll, so processes that ended with the session get their stop. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.poll();
  }

  /** One scan of /proc (public for tests). The baseline scan reports nothing. */
  poll(baseline = false): void {
    const now = this.#now();
    const bootAt = this.#bootTime(now);
    const table = this.#readTable();
    const next = new Map<number, Tracked>();
    for (const [pid, stat] of table) {
      const known = this.#tracked.get(pid);
      if (known && known.startTicks === stat.startTicks) {
        next.set(pid, known);
        // The same process running another program (it called exec since the last poll).
        const exe = known.reported && stat.state !== 'Z' ? this.#exe(pid) : '';
        if (known.reported && exe !== '' && exe !== known.reported.path) {
          this.#stopped(pid, known, now);
          known.reported = this.#started(pid, stat, now);
        }
        continue;
      }
      if (known) this.#stopped(pid, known, now); // the pid was reused
      const entry: Tracked = { startTicks: stat.startTicks, ppid: stat.ppid, reported: null };
      next.set(pid, entry);
      if (baseline || !this.#wanted(pid, stat, table)) continue;
      const startedAt = bootAt === null ? now : Math.min(now, bootAt + (stat.startTicks * 1000) / TICKS_PER_SECOND);
      entry.reported = this.#started(pid, stat, Math.round(startedAt));
    }
    for (const [pid, known] of this.#tracked) if (!next.has(pid)) this.#stopped(pid, known, now);
    this.#tracked = next;
  }

  #wanted(pid: number, stat: ProcStat, table: Map<number, ProcStat>): boolean {
    if (pid === this.#options.launcherPid || stat.state === 'Z') return false;
    if (pid === 2 || stat.ppid === 2) return false; // kernel threads
    // Walk up: under the recorded program → yes; under the launcher but not the program → a helper. Up to and
    // including PID 1: the launcher may be it (the first process of a container or a PID namespace).
    let underProgram = false;
    for (let cur: number | undefined = pid, depth = 0; cur !== undefined && cur > 0 && depth < 256; depth++) {
      if (cur === this.#programPid) {
        underProgram = true;
        break;
      }
      if (cur === this.#options.launcherPid) return false;
      cur = table.get(cur)?.ppid;
    }
    if (underProgram) return true;
    if (this.#uid(pid) !== this.#options.uid) return false;
    if (this.#inSession(pid)) return true;
    this.excluded++;
    return false;
  }

  /** Whether a process of the user's belongs to the session by its environment (see `scope`). */
  #inSession(pid: number): boolean {
    const scope = this.#options.scope;
    if (!scope) return true;
    const environ = this.#read(pid, 'environ');
    if (environ === null) return false; // gone, or not ours to read
    const display = scope.display && displayNumber(scope.display);
    for (const entry of environ.split('\0')) {
      if (entry === `${SESSION_MARKER}=${scope.session}`) return true;
      if (display && entry.startsWith('DISPLAY=') && displayNumber(entry.slice(8)) === display) return true;
    }
    return false;
  }

  #started(pid: number, stat: ProcStat, at: number): Tracked['reported'] {
    const argv = this.#read(pid, 'cmdline')?.split('\0') ?? [];
    if (argv.at(-1) === '') argv.pop();
    const path = this.#exe(pid);
    const uid = this.#uid(pid);
    const reported = {
      name: stat.comm.slice(0, SHORT),
      path: path.slice(0, SHORT),
      user: (uid === null ? '' : this.#userName(uid)).slice(0, SHORT),
      startedAt: at,
    };
    this.#options.emit({
      type: 'process.start',
      atMs: at,
      pid,
      ppid: stat.ppid,
      name: reported.name,
      path: reported.path,
      // Argument by argument first, where an option and its value are still apart (protocol/redaction.ts).
      commandLine: (argv.length > 0 ? formatCommandLine(redactArgv(argv).argv) : `[${stat.comm}]`).slice(
        0,
        MAX_EVENT_TEXT,
      ),
      user: reported.user,
    });
    return reported;
  }

  #stopped(pid: number, known: Tracked, at: number): void {
    if (!known.reported) return;
    const { name, path, user, startedAt } = known.reported;
    known.reported = null;
    this.#options.emit({ type: 'process.stop', atMs: at, pid, name, path, user, startedAtMs: startedAt });
  }

  #readTable(): Map<number, ProcStat> {
    const table = new Map<number, ProcStat>();
    let entries: string[];
    try {
      entries = readdirSync(this.#proc);
    } catch {
      return table;
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const text = this.#read(Number(entry), 'stat');
      const stat = text === null ? null : parseStat(text);
      if (stat) table.set(Number(entry), stat);
    }
    return table;
  }

  /** Epoch ms of the boot, from /proc/uptime (seconds since boot, 10 ms resolution). */
  #bootTime(now: number): number | null {
    const uptime = Number.parseFloat(this.#readFile('uptime') ?? '');
    return Number.isFinite(uptime) ? now - uptime * 1000 : null;
  }

  #uid(pid: number): number | null {
    const status = this.#read(pid, 'status');
    return status === null ? null : parseUid(status);
  }

  /** Full path of the program; empty when the kernel will not say (another user's process). */
  #exe(pid: number): string {
    try {
      return readlinkSync(join(this.#proc, String(pid), 'exe'));
    } catch {
      return '';
    }
  }

  #read(pid: number, file: string): string | null {
    return this.#readFile(join(String(pid), file));
  }

  #readFile(path: string): string | null {
    try {
      return readFileSync(join(this.#proc, path), 'utf8');
    } catch {
      return null;
    }
  }
}
