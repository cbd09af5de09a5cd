/**
 * Linux process capture by polling /proc, where the kernel's process events cannot be had (process-events.ts):
 * reports processes of the session's user (and descendants of the recorded program, whoever they run as) that
 * start or stop during the session. The launcher's own helpers (ffmpeg, dialogs, xprintidle: its children other
 * than the recorded program) are left out. A process shorter than a poll can be missed: the session's record
 * says which method ran.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { type CapturedEvent, SESSION_MARKER } from './capture.ts';
import { argvOf, commandLineOf, decodeBytes, visibleName } from './process-text.ts';

export { formatCommandLine } from './process-text.ts';

/**
 * 50 ms: a poll lists /proc (one directory read) and reads only what is new, plus the `stat` and `exe` of the
 * session's own processes (an exec in place): 1–2 % of a core (docs/benchmarks.md, "Process capture").
 */
export const PROCESS_POLL_MS = 50;
/** /proc/PID/stat times are in clock ticks; USER_HZ is 100 on every Linux architecture we run on. */
const TICKS_PER_SECOND = 100;
/** Most of a command line read (the event holds 64 KiB of it; the rest is counted, not kept). */
export const MAX_CMDLINE_BYTES = 128 * 1024;

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
  /** Set once the process was reported as started; only those get a stop. `exe` is the link, unescaped. */
  reported: { name: string; path: string; user: string; startedAt: number; exe: string } | null;
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
export function displayNumber(display: string): string | null {
  return /:(\d+)(?:\.\d+)?$/.exec(display)?.[1] ?? null;
}

/** Whether an environment's WITNESS_SESSION or DISPLAY puts a process in the session (ProcessWatcherOptions.scope). */
export function inSessionScope(
  scope: { display: string | undefined; session: string },
  found: { session?: string | undefined; display?: string | undefined },
): boolean {
  if (found.session === scope.session) return true;
  const display = scope.display && displayNumber(scope.display);
  return Boolean(display && found.display !== undefined && displayNumber(found.display) === display);
}

/** Reads up to `limit` bytes of a file (a /proc file has no size to ask for); `total` counts all of it. */
export function readBounded(path: string, limit: number): { bytes: Buffer; total: number } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const bytes = Buffer.alloc(limit);
    const spare = Buffer.alloc(4096);
    let got = 0;
    let total = 0;
    for (;;) {
      const n = got < limit ? readSync(fd, bytes, got, limit - got, null) : readSync(fd, spare, 0, spare.length, null);
      if (n <= 0) break;
      total += n;
      got = Math.min(limit, got + n);
    }
    return { bytes: bytes.subarray(0, got), total };
  } catch {
    return null; // gone while being read
  } finally {
    closeSync(fd);
  }
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

  /**
   * One scan of /proc (public for tests). The baseline scan reports nothing. Cheap enough for every 50 ms: the
   * directory is listed, `stat` is read for new pids, and only the session's own processes are looked at again
   * (their `stat` for a reused pid, their `exe` for an exec in place).
   */
  poll(baseline = false): void {
    const now = this.#now();
    const next = new Map<number, Tracked>();
    const fresh: Array<[number, ProcStat]> = [];
    for (const pid of this.#listPids()) {
      const known = this.#tracked.get(pid);
      if (known && !known.reported) {
        next.set(pid, known);
        continue;
      }
      const stat = this.#stat(pid);
      if (!stat) continue; // gone since the listing: its stop comes below
      if (known && known.startTicks === stat.startTicks) {
        next.set(pid, known);
        // The same process running another program (it called exec since the last poll).
        const exe = stat.state !== 'Z' ? this.#exe(pid) : '';
        if (known.reported && exe !== '' && exe !== known.reported.exe) {
          this.#stopped(pid, known, now);
          known.reported = this.#started(pid, stat, now);
        }
        continue;
      }
      if (known) this.#stopped(pid, known, now); // the pid was reused
      next.set(pid, { startTicks: stat.startTicks, ppid: stat.ppid, reported: null });
      fresh.push([pid, stat]);
    }
    for (const [pid, known] of this.#tracked) if (!next.has(pid)) this.#stopped(pid, known, now);
    this.#tracked = next;
    if (baseline || fresh.length === 0) return;
    const bootAt = this.#bootTime(now);
    for (const [pid, stat] of fresh) {
      const entry = next.get(pid) as Tracked;
      if (!this.#wanted(pid, stat, next)) continue;
      const startedAt = bootAt === null ? now : Math.min(now, bootAt + (stat.startTicks * 1000) / TICKS_PER_SECOND);
      entry.reported = this.#started(pid, stat, Math.round(startedAt));
    }
  }

  #wanted(pid: number, stat: ProcStat, table: Map<number, { ppid: number }>): boolean {
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
    const found: { session?: string; display?: string } = {};
    for (const entry of environ.split('\0')) {
      if (entry.startsWith(`${SESSION_MARKER}=`)) found.session = entry.slice(SESSION_MARKER.length + 1);
      else if (entry.startsWith('DISPLAY=')) found.display = entry.slice(8);
    }
    return inSessionScope(scope, found);
  }

  #started(pid: number, stat: ProcStat, at: number): Tracked['reported'] {
    const cmdline = readBounded(join(this.#proc, String(pid), 'cmdline'), MAX_CMDLINE_BYTES);
    const argv = cmdline ? argvOf(cmdline.bytes) : [];
    const exe = this.#exe(pid);
    const uid = this.#uid(pid);
    const reported = {
      name: visibleName(stat.comm),
      path: visibleName(exe),
      user: visibleName(uid === null ? '' : this.#userName(uid)),
      startedAt: at,
      exe,
    };
    this.#options.emit({
      type: 'process.start',
      atMs: at,
      pid,
      ppid: stat.ppid,
      name: reported.name,
      path: reported.path,
      commandLine: commandLineOf(argv, stat.comm, cmdline?.total ?? 0, (cmdline?.total ?? 0) <= MAX_CMDLINE_BYTES),
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

  #listPids(): number[] {
    let entries: string[];
    try {
      entries = readdirSync(this.#proc);
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (const entry of entries) {
      const code = entry.charCodeAt(0);
      if (code >= 48 && code <= 57) pids.push(Number(entry));
    }
    return pids;
  }

  /** Epoch ms of the boot, from /proc/uptime (seconds since boot, 10 ms resolution). */
  #bootTime(now: number): number | null {
    const uptime = Number.parseFloat(this.#readFile('uptime') ?? '');
    return Number.isFinite(uptime) ? now - uptime * 1000 : null;
  }

  /** /proc/PID/stat, its name's bytes kept (process-text.ts); null when gone. */
  #stat(pid: number): ProcStat | null {
    try {
      return parseStat(decodeBytes(readFileSync(join(this.#proc, String(pid), 'stat'))));
    } catch {
      return null;
    }
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
