/**
 * Linux process capture from the kernel's process-event connector, through the helper
 * `witness-proc-events` (agents/launcher/native/proc-events.c): every exec and every exit, however short the
 * process, with what /proc said of it at the moment of the exec. Scoped to the session like the poller
 * (processes.ts), which is the fallback where the helper is missing or not permitted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type CapturedEvent, SESSION_MARKER } from './capture.ts';
import { argvOf, commandLineOf, decodeBytes, visibleName } from './process-text.ts';
import { inSessionScope, MAX_CMDLINE_BYTES, parseStat, parseUid, userNames } from './processes.ts';

/** Where `npm run build:native` puts the helper; WITNESS_PROC_EVENTS or PATH may name another. */
export const BUILT_HELPER = join(dirname(fileURLToPath(import.meta.url)), '../../native/build/witness-proc-events');

/** The helper's exit codes (proc-events.c). */
export const HelperExit = { usage: 2, notPermitted: 3, unsupported: 4 } as const;

const hex = z
  .string()
  .max(2 * MAX_CMDLINE_BYTES)
  .regex(/^(?:[0-9a-f]{2})*$/);
const pid = z.number().int().min(0);
const ns = z.number().int().min(0);

/** One line of the helper's output. */
export const HelperLine = z.discriminatedUnion('e', [
  z.object({ e: z.literal('ready'), filtered: z.boolean() }),
  z.object({ e: z.literal('fork'), pid, ppid: pid, ns }),
  z.object({
    e: z.literal('exec'),
    pid,
    ns,
    ppid: z.number().int().min(-1),
    uid: z.number().int().min(-1),
    comm: hex,
    exe: hex,
    argv: hex,
    argvBytes: z.number().int().min(0),
    /** Bytes of its environment read (the session's user only); 0 or less: it was gone. */
    environBytes: z.number().int().min(-1).optional(),
    session: hex.optional(),
    display: hex.optional(),
  }),
  z.object({ e: z.literal('exit'), pid, ns, code: z.number().int().optional(), signal: z.number().int().optional() }),
  z.object({ e: z.literal('lost') }),
]);
export type HelperLine = z.infer<typeof HelperLine>;

/** A line of the helper's output, or null when it is not one (logged by the caller, never fatal). */
export function parseHelperLine(line: string): HelperLine | null {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  const parsed = HelperLine.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/**
 * The helper to run: WITNESS_PROC_EVENTS, the built one, then `witness-proc-events` on PATH; null if none, or
 * when WITNESS_PROC_EVENTS is `none` (poll /proc instead).
 */
export function findHelper(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.WITNESS_PROC_EVENTS === 'none') return null;
  const candidates = [env.WITNESS_PROC_EVENTS, BUILT_HELPER];
  for (const dir of (env.PATH ?? '').split(':')) if (dir) candidates.push(join(dir, 'witness-proc-events'));
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

interface Entry {
  ppid: number;
  /** Epoch ms the process (fork) or its program (exec) started. */
  startedAt: number;
  reported: { name: string; path: string; user: string; startedAt: number } | null;
  /** A fork of a session process that has not run a program of its own yet: reported as its parent's. */
  forkOf: Omit<Extract<CapturedEvent, { type: 'process.start' }>, 'atMs' | 'pid' | 'ppid'> | null;
  excluded: boolean;
  /**
   * Its real uid and whether its environment puts it in the session, as its last exec showed, or as inherited
   * from its parent at the fork (null: not known, as for what ran before the capture). A program gone before
   * the helper could read it is judged by these.
   */
  uid: number | null;
  inSession: boolean | null;
  /** The kernel's time of its last exec (its fork may be announced after it). */
  execNs: number | null;
  /** An exec of a process already gone whose fork is not announced yet: judged when it is. */
  pendingExec: Extract<HelperLine, { e: 'exec' }> | null;
}

export interface ProcessEventsOptions {
  emit: (event: CapturedEvent) => void;
  uid: number;
  launcherPid: number;
  scope?: { display: string | undefined; session: string };
  helper: string;
  log: { warn(message: string): void; debug(message: string): void };
  /** The helper died during the session (the capture falls back to polling). */
  onFailed?: (reason: string) => void;
  userName?: (uid: number) => string;
  procRoot?: string;
}

const UNKNOWN: Entry = {
  ppid: 0,
  startedAt: 0,
  reported: null,
  forkOf: null,
  excluded: false,
  uid: null,
  inSession: null,
  execNs: null,
  pendingExec: null,
};
/** The command line of a program that ended before the helper could read anything of it. */
export const GONE = '[ended before it could be read]';
/** A fork that runs no program of its own within this long is reported as a copy of its parent. */
const FORK_GRACE_MS = 500;
/** How long an ended process is remembered, for its fork announced late (events of two CPUs interleave). */
const ENDED_KEPT_MS = 2_000;

export class ProcessEventsWatcher {
  readonly #options: ProcessEventsOptions;
  readonly #userName: (uid: number) => string;
  readonly #entries = new Map<number, Entry>();
  /** Processes that just ended, for a fork announced after the exit (ENDED_KEPT_MS). */
  readonly #ended = new Map<number, { ns: number; entry: Entry; at: number }>();
  /** What each reported process's start said, so its forks can be reported as copies of it. */
  readonly #lastStart = new Map<number, NonNullable<Entry['forkOf']>>();
  #child: ChildProcess | null = null;
  #programPid: number | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #stopping = false;
  #closed: Promise<void> = Promise.resolve();
  /** Processes of the user that ran outside the session, and so were not reported. */
  excluded = 0;
  /** Times the kernel dropped events (its socket buffer overflowed): what was lost is not known. */
  lost = 0;
  /** Whether the kernel filters to fork/exec/exit (Linux 6.6+). */
  filtered = false;

  constructor(options: ProcessEventsOptions) {
    this.#options = options;
    let passwd = '';
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch {
      // no names: uids are reported as numbers
    }
    this.#userName = options.userName ?? userNames(passwd);
  }

  /**
   * Starts the helper and waits until it listens; then takes the baseline (what runs already is not reported,
   * but its parentage is known). Rejects with the reason when the helper cannot listen.
   */
  async start(): Promise<void> {
    const args = ['--uid', String(this.#options.uid), '--max-argv', String(MAX_CMDLINE_BYTES)];
    const child = spawn(this.#options.helper, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    const lines = createInterface({
      input: child.stdout as NodeJS.ReadableStream,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    this.#closed = new Promise((resolve) => lines.once('close', () => resolve()));
    let markReady: (line: Extract<HelperLine, { e: 'ready' }>) => void = () => {};
    const ready = new Promise<Extract<HelperLine, { e: 'ready' }>>((resolve) => {
      markReady = resolve;
    });
    lines.on('line', (line) => {
      const event = parseHelperLine(line);
      if (!event) {
        this.#options.log.warn(`process events: a line the launcher cannot read (${line.length} bytes)`);
        return;
      }
      if (event.e === 'ready') markReady(event);
      else this.#handle(event);
    });
    const first = await Promise.race([ready, exited]);
    if (!('filtered' in first)) {
      const why = stderr.trim().split('\n').at(-1) || `exit ${first.code ?? first.signal}`;
      throw new Error(first.code === HelperExit.notPermitted ? `not permitted (${why})` : why);
    }
    this.filtered = first.filtered;
    this.#baseline();
    this.#sweep = setInterval(() => this.#reportLongForks(Date.now()), FORK_GRACE_MS);
    this.#sweep.unref();
    void exited.then((exit) => {
      if (this.#stopping) return;
      const why = stderr.trim().split('\n').at(-1) || `exit ${exit.code ?? exit.signal}`;
      this.#options.log.warn(`the process-event helper stopped during the session: ${why}`);
      this.#options.onFailed?.(why);
    });
  }

  programStarted(pid: number): void {
    this.#programPid = pid;
  }

  /** Stops the helper after it handed over what the kernel had queued; then reports what ended with the session. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#sweep) clearInterval(this.#sweep);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await this.#closed;
      clearTimeout(timer);
    }
    const now = Date.now();
    this.#reportLongForks(now);
    const proc = this.#options.procRoot ?? '/proc';
    for (const [pid, entry] of this.#entries) {
      if (!entry.reported) continue;
      let alive = true;
      try {
        accessSync(join(proc, String(pid)));
      } catch {
        alive = false;
      }
      // Its exit was lost (a dropped event): it is gone now, so it stopped by now.
      if (!alive) this.#stopped(pid, entry, now);
    }
  }

  /**
   * The parentage of what already runs (the tree walk needs it), and for the user's processes whether they are
   * in the session (their children inherit it); none of it is reported.
   */
  #baseline(): void {
    const proc = this.#options.procRoot ?? '/proc';
    let names: string[] = [];
    try {
      names = readdirSync(proc);
    } catch {
      return;
    }
    const read = (pid: string, file: string) => {
      try {
        return readFileSync(join(proc, pid, file), 'latin1');
      } catch {
        return null; // gone, or not ours to read
      }
    };
    for (const name of names) {
      if (!/^\d+$/.test(name) || this.#entries.has(Number(name))) continue; // an event about it came first
      const statText = read(name, 'stat');
      const stat = statText === null ? null : parseStat(statText);
      if (!stat) continue;
      const status = read(name, 'status');
      const uid = status === null ? null : parseUid(status);
      let inSession: boolean | null = null;
      const environ = uid === this.#options.uid ? read(name, 'environ') : null;
      if (environ !== null) {
        const found: { session?: string; display?: string } = {};
        for (const entry of environ.split('\0')) {
          if (entry.startsWith(`${SESSION_MARKER}=`)) found.session = entry.slice(SESSION_MARKER.length + 1);
          else if (entry.startsWith('DISPLAY=')) found.display = entry.slice(8);
        }
        const scope = this.#options.scope;
        inSession = !scope || inSessionScope(scope, found);
      }
      this.#entries.set(Number(name), { ...UNKNOWN, ppid: stat.ppid, uid, inSession });
    }
  }

  /** The helper's events (public for tests: they feed lines as the helper writes them). */
  handleLine(line: string): void {
    const event = parseHelperLine(line);
    if (event && event.e !== 'ready') this.#handle(event);
  }

  #handle(event: Exclude<HelperLine, { e: 'ready' }>): void {
    switch (event.e) {
      case 'fork': {
        const parent = this.#entries.get(event.ppid);
        const ended = this.#ended.get(event.pid);
        if (ended && ended.ns >= event.ns) {
          // The fork of a process whose exec and exit were announced before it (another CPU, faster).
          this.#ended.delete(event.pid);
          const pending = ended.entry.pendingExec;
          if (!pending) return;
          Object.assign(ended.entry, { ppid: event.ppid, pendingExec: null });
          ended.entry.uid ??= parent?.uid ?? null;
          ended.entry.inSession ??= parent?.inSession ?? null;
          this.#entries.set(event.pid, ended.entry);
          this.#exec(pending);
          this.#stopped(event.pid, ended.entry, this.#epoch(ended.ns));
          this.#entries.delete(event.pid);
          this.#lastStart.delete(event.pid);
          return;
        }
        const known = this.#entries.get(event.pid);
        if (known && known.execNs !== null && known.execNs >= event.ns) {
          // Its exec was announced first: the child ran on another CPU before its parent's fork was reported.
          known.ppid = event.ppid;
          known.uid ??= parent?.uid ?? null;
          known.inSession ??= parent?.inSession ?? null;
          const pending = known.pendingExec;
          known.pendingExec = null;
          if (pending) this.#exec(pending);
          return;
        }
        const startedAt = this.#epoch(event.ns);
        // A fork runs its parent's program until it execs: a copy of a session process is the session's.
        const forkOf = parent?.reported ? (this.#lastStart.get(event.ppid) ?? null) : (parent?.forkOf ?? null);
        this.#entries.set(event.pid, {
          ...UNKNOWN,
          ppid: event.ppid,
          startedAt,
          forkOf,
          uid: parent?.uid ?? null,
          inSession: parent?.inSession ?? null,
        });
        return;
      }
      case 'exec':
        this.#exec(event);
        return;
      case 'exit': {
        const entry = this.#entries.get(event.pid);
        if (!entry) return;
        // Kept a moment: its fork may still be announced (its parent's CPU was slower than its own).
        this.#ended.set(event.pid, { ns: event.ns, entry, at: Date.now() });
        this.#entries.delete(event.pid);
        if (entry.pendingExec) return; // judged when its fork comes
        const at = this.#epoch(event.ns);
        if (!entry.reported && entry.forkOf) this.#reportFork(event.pid, entry);
        this.#stopped(event.pid, entry, at);
        this.#lastStart.delete(event.pid);
        return;
      }
      case 'lost':
        if (this.lost++ === 0) this.#options.log.warn('the kernel dropped process events (too many at once)');
        return;
    }
  }

  #exec(event: Extract<HelperLine, { e: 'exec' }>): void {
    const at = this.#epoch(event.ns);
    let entry = this.#entries.get(event.pid);
    if (entry?.reported) this.#stopped(event.pid, entry, at); // the same process, another program
    if (!entry) {
      entry = { ...UNKNOWN, ppid: event.ppid, startedAt: at, execNs: event.ns };
      this.#entries.set(event.pid, entry);
      if (event.uid < 0) {
        // Gone already, and its fork not announced yet: judged when the fork is (by its parent), not now.
        entry.pendingExec = event;
        return;
      }
    }
    entry.execNs = event.ns;
    if (event.ppid >= 0) entry.ppid = event.ppid;
    entry.forkOf = null;
    entry.startedAt = at;
    if (!this.#wanted(event.pid, entry, event)) return;
    const comm = decodeBytes(Buffer.from(event.comm, 'hex'));
    const exe = decodeBytes(Buffer.from(event.exe, 'hex'));
    const argvBytes = Buffer.from(event.argv, 'hex');
    const uid = event.uid >= 0 ? event.uid : entry.uid;
    const start = {
      type: 'process.start' as const,
      name: visibleName(comm),
      path: visibleName(exe),
      // Ended before the helper could read it (well under a millisecond): what ran is not known, that it ran is.
      commandLine:
        comm === '' && argvBytes.length === 0
          ? GONE
          : commandLineOf(argvOf(argvBytes), comm, event.argvBytes, event.argvBytes <= argvBytes.length),
      user: visibleName(uid === null ? '' : this.#userName(uid)),
    };
    entry.reported = { name: start.name, path: start.path, user: start.user, startedAt: at };
    this.#lastStart.set(event.pid, start);
    this.#options.emit({ ...start, atMs: at, pid: event.pid, ppid: entry.ppid });
  }

  #wanted(pid: number, entry: Entry, event: Extract<HelperLine, { e: 'exec' }>): boolean {
    if (pid === this.#options.launcherPid || pid === 2 || entry.ppid === 2) return false;
    let underProgram = false;
    for (let cur: number | undefined = pid, depth = 0; cur !== undefined && cur > 0 && depth < 256; depth++) {
      if (cur === this.#programPid) {
        underProgram = true;
        break;
      }
      if (cur === this.#options.launcherPid) return false;
      cur = this.#entries.get(cur)?.ppid;
    }
    if (event.uid >= 0) entry.uid = event.uid;
    const scope = this.#options.scope;
    if (!scope) entry.inSession = true;
    else if (event.uid >= 0 && (event.uid !== this.#options.uid || (event.environBytes ?? 0) > 0)) {
      const found = {
        session: event.session === undefined ? undefined : Buffer.from(event.session, 'hex').toString('latin1'),
        display: event.display === undefined ? undefined : Buffer.from(event.display, 'hex').toString('latin1'),
      };
      entry.inSession = inSessionScope(scope, found);
    }
    // else: gone before its environment could be read; judged by its parent's (an exec keeps the environment).
    if (underProgram) return true;
    if (entry.uid !== this.#options.uid || entry.inSession === null) return false;
    if (entry.inSession) return true;
    if (!entry.excluded) {
      entry.excluded = true;
      this.excluded++;
    }
    return false;
  }

  /** Forks of session processes that lived FORK_GRACE_MS without running a program: reported as their parent's. */
  #reportLongForks(now: number): void {
    for (const [pid, ended] of this.#ended) if (now - ended.at >= ENDED_KEPT_MS) this.#ended.delete(pid);
    for (const [pid, entry] of this.#entries) {
      if (!entry.reported && entry.forkOf && now - entry.startedAt >= FORK_GRACE_MS) this.#reportFork(pid, entry);
    }
  }

  #reportFork(pid: number, entry: Entry): void {
    const start = entry.forkOf;
    if (!start) return;
    entry.reported = { name: start.name, path: start.path, user: start.user, startedAt: entry.startedAt };
    this.#lastStart.set(pid, start);
    this.#options.emit({ ...start, atMs: entry.startedAt, pid, ppid: entry.ppid });
  }

  #stopped(pid: number, entry: Entry, at: number): void {
    if (!entry.reported) return;
    const { name, path, user, startedAt } = entry.reported;
    entry.reported = null;
    this.#options.emit({ type: 'process.stop', atMs: at, pid, name, path, user, startedAtMs: startedAt });
  }

  /** The kernel's CLOCK_MONOTONIC ns as epoch ms (process.hrtime is the same clock on Linux). */
  #epoch(ns: number): number {
    const monotonicMs = Number(process.hrtime.bigint() / 1000n) / 1000;
    return Math.round(Date.now() - (monotonicMs - ns / 1e6));
  }
}
