/**
 * Process capture from the kernel's process events: the real helper (agents/launcher/native/proc-events.c,
 * built here) under the real watcher, with real short processes — a 5 ms `sleep`, a shell that execs another
 * program, arguments with control characters, escape sequences, invalid UTF-8 and a megabyte of text — and
 * the fallback to polling when the helper cannot listen.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProcEvents } from '../../agents/launcher/native/build.ts';
import type { CapturedEvent } from '../../agents/launcher/src/capture/capture.ts';
import { SessionProcesses } from '../../agents/launcher/src/capture/process-capture.ts';
import { GONE, parseHelperLine, ProcessEventsWatcher } from '../../agents/launcher/src/capture/process-events.ts';
import { createLogger } from '../../agents/launcher/src/log.ts';
import { MAX_EVENT_TEXT } from '../../protocol/activity.ts';
import { ProcessCapture } from '../../protocol/control.ts';
import { waitFor } from '../support/wait-for.ts';

type Start = Extract<CapturedEvent, { type: 'process.start' }>;
type Stop = Extract<CapturedEvent, { type: 'process.stop' }>;

const log = createLogger({ verbose: false, write: () => {} });
const built = buildProcEvents();
const helper = built.path as string;
const uid = process.getuid?.() ?? 0;

/** Runs `argv` as the recorded program under a watcher; resolves with every event once it and its tree are done. */
async function recordProgram(argv: string[]): Promise<{ events: CapturedEvent[]; pid: number }> {
  const events: CapturedEvent[] = [];
  const watcher = new ProcessEventsWatcher({
    emit: (event) => events.push(event),
    uid,
    launcherPid: process.pid,
    scope: { display: undefined, session: 'ses-test' },
    helper,
    log,
  });
  await watcher.start();
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
  const pid = child.pid as number;
  watcher.programStarted(pid);
  await new Promise((resolve) => child.once('exit', resolve));
  await waitFor('the program’s stop', async () => events.some((e) => e.type === 'process.stop' && e.pid === pid));
  await watcher.stop();
  return { events, pid };
}

const starts = (events: CapturedEvent[]) => events.filter((e): e is Start => e.type === 'process.start');

describe('the process-event helper', () => {
  it('is built on this machine (gcc is a CI requirement)', () => {
    expect(built).toMatchObject({ path: expect.stringContaining('witness-proc-events') });
  });

  it('reports a 5 ms process and a program exec’d in place as the new program', async () => {
    const { events, pid } = await recordProgram(['/bin/sh', '-c', 'sleep 0.005; exec /bin/sleep 0.02']);
    const sleep = starts(events).find((e) => e.name === 'sleep');
    expect(sleep).toMatchObject({ path: '/usr/bin/sleep', commandLine: 'sleep 0.005', ppid: pid });
    const sleepStop = events.find((e): e is Stop => e.type === 'process.stop' && e.pid === sleep?.pid);
    expect(sleepStop).toMatchObject({ name: 'sleep', startedAtMs: sleep?.atMs });
    expect(sleepStop?.atMs).toBeGreaterThanOrEqual(sleep?.atMs ?? Number.POSITIVE_INFINITY);
    // The shell, then (same pid) what it exec'd: a stop of the one and a start of the other.
    const ofProgram = events.filter((e) => 'pid' in e && e.pid === pid).map((e) => [e.type, 'name' in e && e.name]);
    expect(ofProgram).toEqual([
      ['process.start', 'sh'],
      ['process.stop', 'sh'],
      ['process.start', 'sleep'],
      ['process.stop', 'sleep'],
    ]);
    expect(starts(events).find((e) => e.pid === pid && e.name === 'sleep')).toMatchObject({
      path: '/usr/bin/sleep',
      commandLine: '/bin/sleep 0.02',
    });
  });

  it('records control characters, escape sequences and invalid UTF-8 escaped, never raw', async () => {
    // bash's $'…' passes the bytes as they are: ESC sequences, a bell, invalid UTF-8, a right-to-left override.
    // A shell that lives 50 ms carries them as its arguments ($0, $1…): long enough to be read for certain.
    const script = String.raw`exec /bin/sh -c 'sleep 0.05' $'\e[31mred\e[0m' $'bell\a' $'\xff\xfe-bytes' $'\u202eevil' 'plain arg' $'--password=s\e3cret'`;
    const { events } = await recordProgram(['/bin/bash', '-c', script]);
    const shell = starts(events).find((e) => e.name === 'sh');
    expect(shell?.commandLine).toBe(
      String.raw`/bin/sh -c 'sleep 0.05' $'\e[31mred\e[0m' $'bell\x07' $'\xff\xfe-bytes' $'\u202eevil' 'plain arg' --password=<redacted:password>`,
    );
    // Nothing a terminal or a page would act on is left in any event.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
    expect(JSON.stringify(events)).not.toMatch(/[\u0000-\u001f\u007f\u202e]|\\u00(?:1b|07)|\\ud[c-f]/i);
  });

  it('bounds a command line of a megabyte (in arguments of 128 KiB less a byte, the kernel’s most)', async () => {
    const big = 'a'.repeat(128 * 1024 - 1);
    const argv = ['/bin/sh', '-c', 'sleep 0.05', ...Array.from({ length: 8 }, () => big), '--password', 'hunter2'];
    const { events } = await recordProgram(argv);
    const start = starts(events).find((e) => e.name === 'sh');
    expect(start?.commandLine.length).toBeLessThanOrEqual(MAX_EVENT_TEXT);
    expect(start?.commandLine).toMatch(/^\/bin\/sh -c 'sleep 0\.05' a{1000}/);
    expect(start?.commandLine.slice(-60)).toMatch(/\[cut: the command line is 1048617 bytes\]$/);
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });
});

describe('helper lines', () => {
  it('reads every kind and refuses what is not one', () => {
    expect(parseHelperLine('{"e":"ready","filtered":true}')).toEqual({ e: 'ready', filtered: true });
    expect(parseHelperLine('{"e":"exit","pid":5,"ns":10,"signal":9}')).toMatchObject({ e: 'exit', signal: 9 });
    for (const bad of [
      '',
      'not json',
      '{"e":"exec","pid":1,"ns":1,"ppid":0,"uid":0,"comm":"zz","exe":"","argv":"","argvBytes":0}',
      '{"e":"exec","pid":1,"ns":1,"ppid":0,"uid":0,"comm":"abc","exe":"","argv":"","argvBytes":0}',
      '{"e":"fork","pid":-1,"ppid":0,"ns":0}',
      '{"e":"unknown"}',
      `{"e":"exec","pid":1,"ns":1,"ppid":0,"uid":0,"comm":"","exe":"","argv":"${'00'.repeat(300_000)}","argvBytes":0}`,
    ]) {
      expect(parseHelperLine(bad), bad.slice(0, 80)).toBeNull();
    }
  });

  it('turns a comm and a path with control characters and invalid UTF-8 into safe names', () => {
    const events: CapturedEvent[] = [];
    const watcher = new ProcessEventsWatcher({
      emit: (event) => events.push(event),
      uid: 1000,
      launcherPid: 1,
      helper: '/nonexistent',
      log,
      userName: () => 'alice',
      procRoot: '/nonexistent',
    });
    const hex = (bytes: number[] | string) => Buffer.from(bytes as string).toString('hex');
    watcher.handleLine(
      JSON.stringify({
        e: 'exec',
        pid: 4242,
        ns: 1,
        ppid: 7,
        uid: 1000,
        comm: hex([0x1b, 0x5b, 0x32, 0x4a, 0xff]),
        exe: hex('/tmp/a\nb'),
        argv: hex('x\0y\0\0\0'),
        argvBytes: 6,
      }),
    );
    expect(events).toEqual([
      expect.objectContaining({ name: '\\e[2J\\xff', path: '/tmp/a\\nb', commandLine: 'x y', user: 'alice' }),
    ]);
  });
});

describe('a program gone before the helper could read it', () => {
  it('is judged by its parent: reported when the parent was in the session, counted when it was not', () => {
    const events: CapturedEvent[] = [];
    const watcher = new ProcessEventsWatcher({
      emit: (event) => events.push(event),
      uid: 1000,
      launcherPid: 999,
      scope: { display: ':9', session: 'ses-1' },
      helper: '/nonexistent',
      log,
      userName: () => 'alice',
      procRoot: '/nonexistent',
    });
    const hex = (text: string) => Buffer.from(text).toString('hex');
    const exec = (pid: number, fields: Record<string, unknown>) =>
      watcher.handleLine(
        JSON.stringify({ e: 'exec', pid, ns: 1, ppid: 10, comm: '', exe: '', argv: '', argvBytes: 0, ...fields }),
      );
    // A shell in the session, one outside it; each forks a child that execs and is gone before it is read.
    exec(10, { ppid: 1, uid: 1000, comm: hex('bash'), environBytes: 40, session: hex('ses-1') });
    exec(20, { ppid: 1, uid: 1000, comm: hex('bash'), environBytes: 40, display: hex(':0') });
    watcher.handleLine(JSON.stringify({ e: 'fork', pid: 11, ppid: 10, ns: 2 }));
    watcher.handleLine(JSON.stringify({ e: 'fork', pid: 21, ppid: 20, ns: 2 }));
    exec(11, { uid: -1, ppid: -1 });
    exec(21, { uid: -1, ppid: -1 });
    // A zombie: its name still readable, its environment no longer.
    watcher.handleLine(JSON.stringify({ e: 'fork', pid: 12, ppid: 10, ns: 3 }));
    exec(12, { uid: 1000, comm: hex('true'), environBytes: 0 });
    const started = starts(events).map((e) => [e.pid, e.name, e.commandLine, e.user]);
    expect(started).toEqual([
      [10, 'bash', '[bash]', 'alice'],
      [11, '', GONE, 'alice'],
      [12, 'true', '[true]', 'alice'],
    ]);
    expect(watcher.excluded).toBe(2); // the outside shell and its child
  });

  it('is judged all the same when its exec is announced before its fork (the child ran on another CPU first)', async () => {
    const events: CapturedEvent[] = [];
    const watcher = new ProcessEventsWatcher({
      emit: (event) => events.push(event),
      uid: 1000,
      launcherPid: 999,
      scope: { display: ':9', session: 'ses-1' },
      helper: '/nonexistent',
      log,
      userName: () => 'alice',
      procRoot: '/nonexistent',
    });
    const hex = (text: string) => Buffer.from(text).toString('hex');
    const line = (fields: Record<string, unknown>) => watcher.handleLine(JSON.stringify(fields));
    const exec = { e: 'exec', ns: 5, comm: '', exe: '', argv: '', argvBytes: 0 };
    line({ ...exec, pid: 10, ppid: 1, uid: 1000, comm: hex('bash'), environBytes: 40, session: hex('ses-1') });
    // Read in time, then its fork: one start, and its stop at the exit.
    line({ ...exec, pid: 11, ns: 20, ppid: 10, uid: 1000, comm: hex('ls'), environBytes: 40, session: hex('ses-1') });
    line({ e: 'fork', pid: 11, ppid: 10, ns: 19 });
    line({ e: 'exit', pid: 11, ns: 30, code: 0 });
    // Gone before it was read, then its fork: judged by the parent when the fork comes.
    line({ ...exec, pid: 12, ns: 40, ppid: -1, uid: -1 });
    line({ e: 'fork', pid: 12, ppid: 10, ns: 39 });
    line({ e: 'exit', pid: 12, ns: 41, code: 0 });
    // Exec and exit both before the fork: reported when the fork comes, and no copy of the parent made of it.
    line({ ...exec, pid: 13, ns: 50, ppid: -1, uid: -1 });
    line({ e: 'exit', pid: 13, ns: 51, code: 0 });
    line({ e: 'fork', pid: 13, ppid: 10, ns: 49 });
    line({ ...exec, pid: 14, ns: 60, ppid: 10, uid: 1000, comm: hex('id'), environBytes: 40, session: hex('ses-1') });
    line({ e: 'exit', pid: 14, ns: 61, code: 0 });
    line({ e: 'fork', pid: 14, ppid: 10, ns: 59 });
    await watcher.stop(); // long-lived forks are reported here: there must be none
    expect(events.map((e) => [e.type, 'pid' in e && e.pid, e.type === 'process.start' && e.commandLine])).toEqual([
      ['process.start', 10, '[bash]'],
      ['process.start', 11, '[ls]'],
      ['process.stop', 11, false],
      ['process.start', 12, GONE],
      ['process.stop', 12, false],
      ['process.start', 13, GONE],
      ['process.stop', 13, false],
      ['process.start', 14, '[id]'],
      ['process.stop', 14, false],
      ['process.stop', 10, false], // still running for all this watcher knows; gone from /proc at the stop
    ]);
  });
});

describe('choosing the method', () => {
  const dir = mkdtempSync(join(tmpdir(), 'witness-helper-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let refusing: string;
  beforeAll(() => {
    // What the helper does without CAP_NET_ADMIN on a kernel that asks for it (exit 3, the reason on stderr).
    refusing = join(dir, 'witness-proc-events');
    writeFileSync(
      refusing,
      '#!/bin/sh\necho "witness-proc-events: joining the process-event connector: Operation not permitted" >&2\nexit 3\n',
    );
    chmodSync(refusing, 0o755);
  });

  const open = (helperPath: string | null) =>
    new SessionProcesses({
      emit: () => {},
      uid,
      launcherPid: process.pid,
      scope: { display: undefined, session: 'ses-test' },
      log,
      onChange: () => {},
      helper: helperPath,
    });

  it('uses the kernel’s events where the helper listens', async () => {
    const processes = open(helper);
    await processes.start();
    try {
      expect(ProcessCapture.parse(processes.status())).toEqual({
        method: 'netlink',
        excluded: expect.any(Number),
        lost: 0,
      });
    } finally {
      await processes.stop();
    }
  });

  it('falls back to polling, and says so at once, when the helper stops during the session', async () => {
    const dying = join(dir, 'dying-helper');
    writeFileSync(
      dying,
      '#!/bin/sh\necho \'{"e":"ready","filtered":true}\'\nread line\necho "out of memory" >&2\nexit 1\n',
    );
    chmodSync(dying, 0o755);
    let changes = 0;
    const processes = new SessionProcesses({
      emit: () => {},
      uid,
      launcherPid: process.pid,
      scope: { display: undefined, session: 'ses-test' },
      log,
      onChange: () => changes++,
      helper: dying,
    });
    // The helper's stdin is closed by the launcher (`ignore`), so `read` returns at once and it dies.
    await processes.start();
    await waitFor('the fallback', async () => changes === 1);
    try {
      expect(processes.status()).toMatchObject({
        method: 'poll',
        pollMs: 50,
        detail: 'the process-event helper stopped: out of memory',
      });
    } finally {
      await processes.stop();
    }
  });

  it('polls every 50 ms, and says why, where the helper is not permitted or not installed', async () => {
    for (const [path, why] of [
      [refusing, /cannot listen: not permitted \(.*Operation not permitted\)/],
      [null, /not installed/],
    ] as const) {
      const processes = open(path);
      await processes.start();
      try {
        const status = ProcessCapture.parse(processes.status());
        expect(status).toMatchObject({ method: 'poll', pollMs: 50, excluded: expect.any(Number) });
        expect(status.detail).toMatch(why);
      } finally {
        await processes.stop();
      }
    }
  });
});
