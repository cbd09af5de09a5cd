/**
 * Activity capture for real: Xvfb (no window manager), xterms, the launcher CLI with `--source x11`, and
 * xdotool typing. Checks the keystroke runs, processes, focus changes and redaction that reach the fake
 * Witness server, and that their times are on the clock of the recorded video.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProcEvents } from '../../agents/launcher/native/build.ts';
import { parseStat } from '../../agents/launcher/src/capture/processes.ts';
import { parseRawEvent, X11Connection, XI } from '../../agents/launcher/src/capture/x11-connection.ts';
import type { ActivityEvent } from '../../protocol/activity.ts';
import { type FakeSession, FakeWitness } from '../support/fake-witness.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = fileURLToPath(new URL('../../agents/launcher/bin/witness-launcher.mjs', import.meta.url));
const PASSWORD_TITLE = '[sudo] password for alice';

function freeDisplay(): string {
  for (let n = 140; n < 260; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return `:${n}`;
  }
  throw new Error('no free X display');
}

type Of<T extends ActivityEvent['type']> = Extract<ActivityEvent, { type: T }>;

/** Watches the display: `pressedAt` resolves with the wall time at which the next key press reaches X clients. */
async function watchFirstKey(display: string): Promise<{ pressedAt: Promise<number> }> {
  const x = await X11Connection.open(display);
  const xi = await x.queryExtension('XInputExtension');
  if (!xi) throw new Error('no XInput');
  await x.xiQueryVersion(xi.majorOpcode, 2, 2);
  const pressed = new Promise<number>((resolve) => {
    x.onEvent = (event) => {
      if (parseRawEvent(event, xi.majorOpcode)?.type !== XI.RawKeyPress) return;
      resolve(Date.now());
      x.close();
    };
  });
  x.xiSelectEvents(xi.majorOpcode, x.root, XI.AllMasterDevices, [XI.RawKeyPress]);
  await x.sync();
  return { pressedAt: pressed };
}

describe('activity capture on an X display', () => {
  const display = freeDisplay();
  const env = { ...process.env, DISPLAY: display };
  const children: ChildProcess[] = [];
  let dir: string;
  let server: FakeWitness;
  let session: FakeSession;
  /** Waits until the launcher has uploaded an event that `matches`; the capture and the batches are live. */
  const reported = (what: string, matches: (event: ActivityEvent) => boolean) =>
    waitFor(`the launcher to report ${what}`, () => server.events(session).find(matches), {
      timeoutMs: 15_000,
      detail: () => `events so far: ${JSON.stringify(server.events(session))}`,
    });

  const xterm = (title: string, ...command: string[]): ChildProcess => {
    const child = spawn('xterm', ['-T', title, '-geometry', '80x20+40+40', '-e', ...command], { env, stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const xdotool = (...args: string[]) => execFileSync('xdotool', args, { env, encoding: 'utf8' });

  beforeAll(async () => {
    expect(buildProcEvents()).toMatchObject({ path: expect.any(String) }); // the kernel's process events
    dir = mkdtempSync(join(tmpdir(), 'witness-activity-'));
    children.push(spawn('Xvfb', [display, '-screen', '0', '1024x600x24', '-nolisten', 'tcp'], { stdio: 'ignore' }));
    await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    // SIGTERM, so that Xvfb removes its socket and lock file (a killed one leaves the display taken).
    for (const child of children.reverse()) child.kill('SIGTERM');
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
    await waitFor('Xvfb and the xterms to exit on SIGTERM', () => children.every(exited), { timeoutMs: 5_000 });
  });

  it('uploads keystroke runs, processes and focus changes on the video clock, with password prompts redacted', async () => {
    const one = xterm('witness-one', 'bash', '--norc', '--noprofile');
    xdotool('search', '--sync', '--onlyvisible', '--name', '^witness-one$');

    // Batch 0 fails once: the batch is retried from the spool like a media piece.
    server = new FakeWitness({ failFirstBatchPostOf: [0] });
    await server.start();
    session = server.createSession('alice', 'db-01', 'desktop');
    const token = server.token(session);
    const spawnedAt = Date.now();
    const launcher = spawn(
      process.execPath,
      [
        BIN,
        'record',
        '--server',
        server.url,
        '--session',
        session.id,
        '--token',
        token,
        '--source',
        'x11',
        '--display',
        display,
        '--fps',
        '2',
        '--spool',
        dir,
        '--verbose',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(launcher);
    let stderr = '';
    launcher.stderr?.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => launcher.on('close', resolve));
    await waitFor('the capture and the first frame', () => /activity capture started[\s\S]*first frame/.test(stderr), {
      timeoutMs: 15_000,
      detail: () => stderr,
    });
    const origin = Date.parse(/first frame captured at (\S+),/.exec(stderr)?.[1] ?? '');
    expect(origin).toBeGreaterThan(spawnedAt);

    xdotool('search', '--onlyvisible', '--name', '^witness-one$', 'windowfocus', '--sync');
    // When the first key reaches X clients, seen by this test over its own connection.
    const firstKey = await watchFirstKey(display);
    // Not execFileSync: this process must be free to see the key arrive.
    await promisify(execFile)('xdotool', ['type', '--delay', '30', 'echo hello-witness\n'], { env });
    const firstKeyAt = await firstKey.pressedAt;
    xdotool('type', '--delay', '30', 'sleep 2\n');
    // (The machine may run other `sleep 2`s as this user: take the one whose parent is the xterm's shell.)
    const shellOf = (pid: number | undefined) => parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.ppid;
    const start = (await reported(
      'the `sleep 2` typed into the first xterm',
      (e) =>
        e.type === 'process.start' && e.name === 'sleep' && e.commandLine === 'sleep 2' && shellOf(e.ppid) === one.pid,
    )) as Of<'process.start'>;
    const stop = (await reported(
      'the end of that `sleep 2`',
      (e) => e.type === 'process.stop' && e.pid === start.pid,
    )) as Of<'process.stop'>;

    const two = xterm('witness-two', 'cat');
    xdotool('search', '--sync', '--onlyvisible', '--name', '^witness-two$', 'windowfocus', '--sync');
    await reported('the focus on witness-two', (e) => e.type === 'window.focus' && e.title === 'witness-two');
    const prompt = xterm(PASSWORD_TITLE, 'cat');
    xdotool('search', '--sync', '--onlyvisible', '--name', 'password for alice', 'windowfocus', '--sync');
    // From stdin: on xdotool's command line the password would be in a process.start event.
    execFileSync('xdotool', ['type', '--delay', '30', '--file', '-'], { env, input: 'hunter2\n' });
    await reported(
      'the keys typed into the password prompt',
      (e) => e.type === 'keys' && e.window?.title === PASSWORD_TITLE,
    );
    launcher.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);

    const events = server.events(session);
    const pieces = [...session.pieces.values()];
    const duration = Math.max(...pieces.map((p) => p.endMs));
    const of = <T extends ActivityEvent['type']>(type: T) => events.filter((e): e is Of<T> => e.type === type);

    // Keystrokes: one readable run in the first xterm, special keys spelled out.
    const keys = of('keys');
    const typed = keys.find((k) => k.text.includes('echo hello-witness<Enter>'));
    expect(typed, JSON.stringify(keys)).toMatchObject({ window: { title: 'witness-one', app: 'XTerm' } });
    expect(keys.some((k) => k.text.includes('sleep 2<Enter>') && k.window?.title === 'witness-one')).toBe(true);
    expect(typed?.endMs).toBeGreaterThan(typed?.atMs ?? 0);

    // The password prompt's run is redacted; the password appears nowhere.
    const redacted = keys.find((k) => k.window?.title === PASSWORD_TITLE);
    expect(redacted).toMatchObject({ text: '<redacted>', redacted: true });
    expect(JSON.stringify([...session.batches.values()].map((b) => b.body))).not.toContain('hunter2');

    // Processes: sleep, started from the xterm's shell, with its full path; and its stop, at least the 2 s
    // it slept later (and before the focus on witness-two, below, which came after it was reported).
    expect(start).toMatchObject({ path: '/usr/bin/sleep', user: userInfo().username });
    expect(stop).toMatchObject({ name: 'sleep', path: '/usr/bin/sleep', startedAtMs: start.atMs });
    expect(stop.atMs - start.atMs).toBeGreaterThan(1_500);
    // The launcher's own helpers (its ffmpeg) are not the session's processes.
    expect(of('process.start').filter((p) => p.ppid === launcher.pid)).toEqual([]);

    // Focus: each xterm, with its class and pid, in order.
    const focus = of('window.focus');
    const focusOf = (title: string) => focus.find((f) => f.title === title);
    expect(focusOf('witness-one')).toMatchObject({ app: 'XTerm', pid: one.pid });
    expect(focusOf('witness-two')).toMatchObject({ app: 'XTerm', pid: two.pid });
    expect(focusOf(PASSWORD_TITLE)).toMatchObject({ app: 'XTerm', pid: prompt.pid });
    expect(focusOf('witness-two')?.atMs).toBeGreaterThan(stop.atMs);

    // Every time is within the recording (the last ones at its very end).
    for (const event of events) {
      expect(event.atMs, JSON.stringify(event)).toBeGreaterThanOrEqual(0);
      expect(event.atMs, JSON.stringify(event)).toBeLessThanOrEqual(duration + 1_000);
    }

    // The events are on the video's clock. A piece is written when the frame after it is captured, so it
    // reaches the server just after first frame + its endMs: the earliest such arrival (the last piece,
    // written at the stop, aside) bounds the video's origin. The first key's arrival at X clients minus its
    // atMs is the events' origin. They agree within a few hundred ms; timing from ffmpeg's start (about 1 s
    // earlier) or from its header (seconds later) would not. The bound is half that second, not less: on a busy
    // machine a piece's upload waits for the CPU, which moves the measured video origin, not the recorded one.
    const sent = [...pieces].sort((a, b) => a.endMs - b.endMs).slice(1, -1);
    const videoOrigin = Math.min(...sent.map((p) => p.receivedAt - p.endMs));
    const eventsOrigin = firstKeyAt - (typed?.atMs ?? 0);
    expect(Math.abs(eventsOrigin - videoOrigin), `events ${eventsOrigin}, video ${videoOrigin}`).toBeLessThan(600);
    // And the first frame time the launcher logs is the video's.
    expect(Math.abs(origin - videoOrigin), `logged ${origin}, video ${videoOrigin}`).toBeLessThan(600);

    // Batches: 0, 1, 2... each stored once; batch 0 after a 503; nothing left in the spool.
    const numbers = [...session.batches.keys()].sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i));
    expect(session.batchPosts.filter((p) => p.batch === 0).map((p) => p.status)).toEqual([503, 201]);
    expect(readdirSync(dir)).toEqual([]);

    // Input reached the control socket as `activity`, and the hello said it would.
    expect(server.messages(session, 'hello')[0]?.reportsActivity).toBe(true);
    expect(server.messages(session, 'activity').length).toBeGreaterThanOrEqual(1);
    // How processes were captured, for the session's record: said at the start, and with the counts at the end.
    const statuses = server.messages(session, 'capture').map((m) => m.capture.processes);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toEqual({ method: 'netlink', excluded: expect.any(Number), lost: 0 });
  }, 60_000);
});
