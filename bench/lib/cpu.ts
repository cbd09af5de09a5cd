/** CPU time of a process tree, read from /proc (Linux), so a benchmark can say who used the cores. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  cpuSeconds: number;
}

function readStat(pid: number, file = `/proc/${pid}/stat`): ProcStat | null {
  try {
    const text = readFileSync(file, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { pid, ppid: Number(fields[1]), comm, cpuSeconds: (utime + stime) / TICKS_PER_SECOND };
  } catch {
    return null; // exited meanwhile
  }
}

function allProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** CPU seconds so far of `root` and every descendant (and of each of their threads), keyed by pid. */
export type CpuSnapshot = Map<number, { label: string; cpuSeconds: number; threads: Map<number, number> }>;

function threadSeconds(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readStat(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (stat) threads.set(Number(tid), stat.cpuSeconds);
    }
  } catch {
    // exited meanwhile
  }
  return threads;
}

/** `label` names a process for the report (by default its comm and first arguments). */
export function snapshotTree(root: number, label: (pid: number, comm: string) => string = describe): CpuSnapshot {
  const processes = allProcesses();
  const children = new Map<number, ProcStat[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const snapshot: CpuSnapshot = new Map();
  const rootStat = processes.find((p) => p.pid === root);
  const queue = rootStat ? [rootStat] : [];
  while (queue.length) {
    const p = queue.shift() as ProcStat;
    snapshot.set(p.pid, { label: label(p.pid, p.comm), cpuSeconds: p.cpuSeconds, threads: threadSeconds(p.pid) });
    queue.push(...(children.get(p.pid) ?? []));
  }
  return snapshot;
}

function describe(pid: number, comm: string): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const program = args.find((a, i) => i > 0 && !a.startsWith('-')) ?? args[0] ?? comm;
    return `${comm} ${program.split('/').slice(-2).join('/')}`;
  } catch {
    return comm;
  }
}

export interface CpuUse {
  /** CPU seconds used by the whole tree between the snapshots. */
  seconds: number;
  /** Per process, busiest first, with its busiest thread (one thread can use at most one core). */
  byProcess: Array<{ pid: number; label: string; seconds: number; busiestThreadSeconds: number }>;
}

/** CPU used between two snapshots of the same tree (processes that exited in between are not counted). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const byProcess = [...after].map(([pid, p]) => {
    const threadsBefore = before.get(pid)?.threads;
    const busiestThreadSeconds = Math.max(
      0,
      ...[...p.threads].map(([tid, seconds]) => seconds - (threadsBefore?.get(tid) ?? 0)),
    );
    return { pid, label: p.label, seconds: p.cpuSeconds - (before.get(pid)?.cpuSeconds ?? 0), busiestThreadSeconds };
  });
  byProcess.sort((a, b) => b.seconds - a.seconds);
  return { seconds: byProcess.reduce((a, p) => a + p.seconds, 0), byProcess };
}

/** Prints a tree's CPU per process, with the busiest thread of each. */
export function printCpuByProcess(title: string, use: CpuUse, wallSeconds: number, minSeconds = 0.05): void {
  console.log(`${title} (percent of one core; busiest thread in brackets):`);
  for (const p of use.byProcess.filter((p) => p.seconds >= minSeconds)) {
    const thread = percentOfCore(p.busiestThreadSeconds, wallSeconds);
    console.log(
      `  ${percentOfCore(p.seconds, wallSeconds).padStart(6)} [${thread.padStart(5)}]  ${p.label} (pid ${p.pid})`,
    );
  }
}

/** Percent of one core, as `top` shows it (2 cores busy = 200 %). */
export function percentOfCore(cpuSeconds: number, wallSeconds: number): string {
  return `${((100 * cpuSeconds) / wallSeconds).toFixed(0)} %`;
}

/** CPU seconds the whole machine has spent busy (all cores, from /proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SECOND;
}

/**
 * Measures how busy the machine is for a moment before a benchmark starts and says so when something else is
 * using it: on a small machine, another test run halves the figures.
 */
export async function warnIfMachineBusy(sampleMs = 3000, limitPercent = 25): Promise<void> {
  const before = machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const percent = (100 * (machineBusySeconds() - before)) / (sampleMs / 1000);
  if (percent > limitPercent) {
    console.warn(`warning: the machine is already ${percent.toFixed(0)} % busy (of one core) before the benchmark`);
  }
}
