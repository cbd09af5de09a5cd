/** The /proc process watcher against a fake /proc directory. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CapturedEvent } from '../../agents/launcher/src/capture/capture.ts';
import {
  formatCommandLine,
  parseStat,
  parseUid,
  ProcessWatcher,
  userNames,
} from '../../agents/launcher/src/capture/processes.ts';

const ALICE = 1000;
const LAUNCHER = 500;

interface FakeProcess {
  comm: string;
  ppid: number;
  /** Seconds after boot. */
  startS: number;
  uid?: number;
  argv?: string[];
  exe?: string;
  state?: string;
  /** Its environment, NAME=value entries. */
  environ?: string[];
}

describe('process watcher', () => {
  let proc: string;
  let now: number;
  let events: CapturedEvent[];
  let watcher: ProcessWatcher;

  const put = (pid: number, p: FakeProcess) => {
    const dir = join(proc, String(pid));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const middle = Array(17).fill('0').join(' ');
    writeFileSync(
      join(dir, 'stat'),
      `${pid} (${p.comm}) ${p.state ?? 'S'} ${p.ppid} ${middle} ${p.startS * 100} 0 0\n`,
    );
    const uid = p.uid ?? ALICE;
    writeFileSync(join(dir, 'status'), `Name:\t${p.comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
    writeFileSync(join(dir, 'cmdline'), p.argv ? `${p.argv.join('\0')}\0` : '');
    if (p.exe) symlinkSync(p.exe, join(dir, 'exe'));
    if (p.environ) writeFileSync(join(dir, 'environ'), `${p.environ.join('\0')}\0`);
  };
  const gone = (pid: number) => rmSync(join(proc, String(pid)), { recursive: true, force: true });
  /** Boot was 1000 s before `now`. */
  const uptime = () => writeFileSync(join(proc, 'uptime'), `${(now - BOOT) / 1000} 12345.67\n`);
  const BOOT = 1_700_000_000_000;

  beforeEach(() => {
    proc = mkdtempSync(join(tmpdir(), 'witness-proc-'));
    now = BOOT + 1_000_000;
    uptime();
    events = [];
    put(1, { comm: 'systemd', ppid: 0, startS: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
    put(2, { comm: 'kthreadd', ppid: 0, startS: 0, uid: 0 });
    put(100, { comm: 'bash', ppid: 1, startS: 10, argv: ['-bash'], exe: '/usr/bin/bash' });
    put(LAUNCHER, { comm: 'node', ppid: 100, startS: 900, argv: ['node', 'witness-launcher'], exe: '/usr/bin/node' });
    watcher = new ProcessWatcher({
      emit: (event) => events.push(event),
      uid: ALICE,
      launcherPid: LAUNCHER,
      procRoot: proc,
      now: () => now,
      userName: userNames('root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/bash\n'),
    });
    watcher.poll(true);
  });
  afterEach(() => rmSync(proc, { recursive: true, force: true }));

  const tick = (ms = 500) => {
    now += ms;
    uptime();
    watcher.poll();
  };

  it('reports processes started after the baseline, with path, command line, user and start time', () => {
    expect(events).toEqual([]);
    put(200, {
      comm: 'sleep',
      ppid: 100,
      startS: 1000.25,
      argv: ['sleep', '2'],
      exe: '/usr/bin/sleep',
    });
    put(201, { comm: 'psql', ppid: 100, startS: 1000.3, argv: ['psql', '-c', "select 'x'"], exe: '/usr/bin/psql' });
    tick();
    expect(events).toEqual([
      {
        type: 'process.start',
        atMs: BOOT + 1_000_250,
        pid: 200,
        ppid: 100,
        name: 'sleep',
        path: '/usr/bin/sleep',
        commandLine: 'sleep 2',
        user: 'alice',
      },
      {
        type: 'process.start',
        atMs: BOOT + 1_000_300,
        pid: 201,
        ppid: 100,
        name: 'psql',
        path: '/usr/bin/psql',
        commandLine: `psql -c 'select '\\''x'\\'''`,
        user: 'alice',
      },
    ]);
    events.length = 0;
    tick();
    expect(events).toEqual([]); // still running: nothing new
    gone(200);
    tick();
    expect(events).toEqual([
      {
        type: 'process.stop',
        atMs: now,
        pid: 200,
        name: 'sleep',
        path: '/usr/bin/sleep',
        user: 'alice',
        startedAtMs: BOOT + 1_000_250,
      },
    ]);
  });

  it("leaves out other users' processes, kernel threads, zombies and the launcher's helpers", () => {
    put(300, { comm: 'cron', ppid: 1, startS: 1000.1, uid: 0, argv: ['cron'], exe: '/usr/sbin/cron' });
    put(301, { comm: 'kworker/0:1', ppid: 2, startS: 1000.1, uid: ALICE });
    put(302, { comm: 'defunct', ppid: 100, startS: 1000.1, state: 'Z' });
    put(303, { comm: 'ffmpeg', ppid: LAUNCHER, startS: 1000.1, argv: ['ffmpeg'], exe: '/usr/bin/ffmpeg' });
    put(304, { comm: 'sh', ppid: 303, startS: 1000.2, argv: ['sh'], exe: '/usr/bin/sh' }); // a helper's child
    tick();
    expect(events).toEqual([]);
  });

  it('leaves out the helpers of a launcher that is PID 1 (the first process of a container or PID namespace)', () => {
    proc = mkdtempSync(join(tmpdir(), 'witness-proc-'));
    uptime();
    put(1, { comm: 'node', ppid: 0, startS: 900, argv: ['node', 'witness-launcher'], exe: '/usr/bin/node' });
    const inContainer = new ProcessWatcher({
      emit: (event) => events.push(event),
      uid: ALICE,
      launcherPid: 1,
      procRoot: proc,
      now: () => now,
      userName: userNames('alice:x:1000:1000::/home/alice:/bin/bash\n'),
    });
    inContainer.poll(true);
    put(10, { comm: 'xprintidle', ppid: 1, startS: 1000.1, argv: ['xprintidle'], exe: '/usr/bin/xprintidle' });
    put(20, { comm: 'bash', ppid: 1, startS: 1000.1, argv: ['bash'], exe: '/usr/bin/bash' });
    inContainer.programStarted(20);
    put(21, { comm: 'ls', ppid: 20, startS: 1000.2, argv: ['ls'], exe: '/usr/bin/ls' });
    // Entered from outside (docker exec): the user's, not under the launcher.
    put(30, { comm: 'top', ppid: 0, startS: 1000.2, argv: ['top'], exe: '/usr/bin/top' });
    now += 500;
    uptime();
    inContainer.poll();
    expect(events.map((e) => ('pid' in e ? e.pid : 0))).toEqual([20, 21, 30]);
  });

  it("reports the recorded program's descendants whoever they run as", () => {
    put(400, { comm: 'ssh', ppid: LAUNCHER, startS: 1000.1, argv: ['ssh', 'db-1'], exe: '/usr/bin/ssh' });
    watcher.programStarted(400);
    put(401, { comm: 'sudo', ppid: 400, startS: 1000.2, uid: 0, argv: ['sudo', '-i'], exe: '/usr/bin/sudo' });
    put(402, { comm: 'bash', ppid: 401, startS: 1000.3, uid: 0, argv: ['-bash'], exe: '/usr/bin/bash' });
    tick();
    expect(events.map((e) => [e.type, 'pid' in e ? e.pid : 0, 'user' in e ? e.user : ''])).toEqual([
      ['process.start', 400, 'alice'],
      ['process.start', 401, 'root'],
      ['process.start', 402, 'root'],
    ]);
  });

  it('sees a reused pid and an exec as a stop and a start', () => {
    put(501, { comm: 'bash', ppid: 100, startS: 1000.1, argv: ['bash'], exe: '/usr/bin/bash' });
    tick();
    // The forked shell exec'd sleep: same process, another program.
    unlinkSync(join(proc, '501', 'exe'));
    symlinkSync('/usr/bin/sleep', join(proc, '501', 'exe'));
    tick();
    // It ended and its pid went to a new process before the next poll.
    put(501, { comm: 'vim', ppid: 100, startS: 1001.2, argv: ['vim'], exe: '/usr/bin/vim' });
    tick();
    expect(events.map((e) => [e.type, 'pid' in e ? e.pid : 0, 'path' in e ? e.path : ''])).toEqual([
      ['process.start', 501, '/usr/bin/bash'],
      ['process.stop', 501, '/usr/bin/bash'],
      ['process.start', 501, '/usr/bin/sleep'],
      ['process.stop', 501, '/usr/bin/sleep'],
      ['process.start', 501, '/usr/bin/vim'],
    ]);
  });

  it('reports what ended with the session on stop', () => {
    put(600, { comm: 'top', ppid: 100, startS: 1000.1, argv: ['top'], exe: '/usr/bin/top' });
    tick();
    gone(600);
    watcher.stop();
    expect(events.map((e) => e.type)).toEqual(['process.start', 'process.stop']);
  });
});

describe('/proc parsing', () => {
  it('reads stat lines whose names hold spaces and parentheses', () => {
    const middle = Array(17).fill('0').join(' ');
    expect(parseStat(`42 (a) (b c)) R 7 ${middle} 12345 0`)).toEqual({
      comm: 'a) (b c)',
      state: 'R',
      ppid: 7,
      startTicks: 12345,
    });
    expect(parseStat('garbage')).toBeNull();
  });

  it('reads the real uid and formats command lines', () => {
    expect(parseUid('Name:\tx\nUid:\t1000\t0\t0\t0\n')).toBe(1000);
    expect(parseUid('Name:\tx\n')).toBeNull();
    expect(formatCommandLine(['ls', '-l', '/tmp/a b', ''])).toBe(`ls -l '/tmp/a b' ''`);
  });
});

describe('process watcher scoped to the session', () => {
  it("reports the user's processes on the recorded display or carrying the session's marker, and counts the rest", () => {
    const proc = mkdtempSync(join(tmpdir(), 'witness-proc-scope-'));
    try {
      const put = (pid: number, comm: string, ppid: number, environ: string[], uid = ALICE) => {
        const dir = join(proc, String(pid));
        mkdirSync(dir);
        writeFileSync(
          join(dir, 'stat'),
          `${pid} (${comm}) S ${ppid} ${Array(17).fill('0').join(' ')} ${pid * 100} 0 0\n`,
        );
        writeFileSync(join(dir, 'status'), `Name:\t${comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
        writeFileSync(join(dir, 'cmdline'), `${comm}\0`);
        writeFileSync(join(dir, 'environ'), `${environ.join('\0')}\0`);
      };
      writeFileSync(join(proc, 'uptime'), '1000 1\n');
      put(1, 'init', 0, [], 0);
      put(LAUNCHER, 'node', 1, ['DISPLAY=:99']);
      const events: CapturedEvent[] = [];
      const watcher = new ProcessWatcher({
        emit: (event) => events.push(event),
        uid: ALICE,
        launcherPid: LAUNCHER,
        procRoot: proc,
        now: () => 1_000,
        userName: () => 'alice',
        scope: { display: ':99', session: 'ses-1' },
      });
      watcher.poll(true);
      put(601, 'xterm', 1, ['DISPLAY=:99.0', 'HOME=/home/alice']); // on the recorded display
      put(602, 'psql', 1, ['WITNESS_SESSION=ses-1']); // started from the recorded program
      put(603, 'cron-job', 1, ['PATH=/usr/bin']); // the user's, elsewhere
      put(604, 'other-term', 1, ['DISPLAY=:0']); // another display
      put(605, 'other-session', 1, ['WITNESS_SESSION=ses-2', 'DISPLAY=:0']); // another recorded session
      watcher.poll();
      expect(events.filter((e) => e.type === 'process.start').map((e) => (e as { name: string }).name)).toEqual([
        'xterm',
        'psql',
      ]);
      expect(watcher.excluded).toBe(3);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});

describe('process watcher on hostile names and arguments', () => {
  it('records control characters, invalid UTF-8 and a megabyte of arguments escaped, bounded and redacted', () => {
    const proc = mkdtempSync(join(tmpdir(), 'witness-proc-bad-'));
    try {
      const put = (pid: number, comm: Buffer, cmdline: Buffer) => {
        const dir = join(proc, String(pid));
        mkdirSync(dir);
        const middle = Array(17).fill('0').join(' ');
        writeFileSync(
          join(dir, 'stat'),
          Buffer.concat([Buffer.from(`${pid} (`), comm, Buffer.from(`) S 1 ${middle} ${pid * 100} 0 0\n`)]),
        );
        writeFileSync(join(dir, 'status'), `Name:\tx\nUid:\t${ALICE}\t${ALICE}\t${ALICE}\t${ALICE}\n`);
        writeFileSync(join(dir, 'cmdline'), cmdline);
      };
      writeFileSync(join(proc, 'uptime'), '1000 1\n');
      const events: CapturedEvent[] = [];
      const watcher = new ProcessWatcher({
        emit: (event) => events.push(event),
        uid: ALICE,
        launcherPid: LAUNCHER,
        procRoot: proc,
        now: () => 1_000_000,
        userName: () => 'alice',
      });
      watcher.poll(true);
      put(
        700,
        Buffer.from('\x1b[2J\xff', 'latin1'),
        Buffer.from('ls\0\x1b]0;title\x07\0\xc3\x28\0--password=\x1bx\0\0\0', 'latin1'),
      );
      put(
        701,
        Buffer.from('big'),
        Buffer.concat([Buffer.from('big\0'), Buffer.alloc(1024 * 1024, 'a'), Buffer.from('\0')]),
      );
      watcher.poll();
      const [hostile, big] = events as Array<Extract<CapturedEvent, { type: 'process.start' }>>;
      expect(hostile).toMatchObject({
        name: String.raw`\e[2J\xff`,
        commandLine: String.raw`ls $'\e]0;title\x07' $'\xc3(' --password=<redacted:password>`,
      });
      expect(big?.commandLine.length).toBeLessThanOrEqual(64 * 1024);
      expect(big?.commandLine).toMatch(/^big a+ \[cut: the command line is 1048581 bytes\]$/);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
