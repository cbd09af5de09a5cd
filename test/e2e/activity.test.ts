/**
 * Activity end to end: the real launcher captures keystrokes, processes and focus changes on the e2e X
 * display, uploads them in batches to the real server, and the API lists and searches them on the
 * session clock, with a password prompt's keystrokes redacted.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProcEvents } from '../../agents/launcher/native/build.ts';
import type { CaptureStatus } from '../../protocol/control.ts';
import { waitFor } from '../support/wait-for.ts';
import { api, display, fetchEvidence, kill, onDisplay, runLauncher, session } from './helpers.ts';

const marker = `mark${Date.now().toString(36)}`;
const TITLE = `witness-activity-${marker}`;
const PROMPT_TITLE = `[sudo] password for ${marker}`;
const SECRET = `secret-${marker}`;
/** A database password typed on a command line: it must be stored as a marker, and found by no search. */
const DB_SECRET = `S3cret${marker}`;
/** What an unrelated user runs on the machine meanwhile, with the session's display and marker in its environment. */
const OTHER = `other-user-${marker}`;

interface ApiEvent {
  id: number;
  type: string;
  offsetMs: number;
  endMs: number | null;
  text: string | null;
  app: string | null;
  title: string | null;
  name: string | null;
  path: string | null;
  user: string | null;
  pid: number | null;
  redacted: boolean;
}

interface SearchResult {
  sessions: Array<{ id: string; matches?: Array<{ type: string; offsetMs: number; snippet: string }> }>;
}

const env = { ...process.env, DISPLAY: display };
const xdotool = (args: string[], input?: string) => execFileSync('xdotool', args, { env, input, encoding: 'utf8' });

async function json<T>(path: string): Promise<T> {
  const res = await api(path);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

describe('activity capture end to end', () => {
  const windows: ChildProcess[] = [];
  /** A stand-in `mysql` (the real client need not be installed): it runs as long as a short query. */
  const bin = mkdtempSync(path.join(tmpdir(), 'witness-e2e-bin-'));
  writeFileSync(path.join(bin, 'mysql'), '#!/bin/sh\nsleep 0.3\n');
  chmodSync(path.join(bin, 'mysql'), 0o755);
  afterAll(() => {
    for (const child of windows) kill(child);
    rmSync(bin, { recursive: true, force: true });
  });
  // `npm test` builds it (npm run build); built here too when this file runs alone.
  beforeAll(() => {
    expect(buildProcEvents()).toMatchObject({ path: expect.any(String) });
  });

  it('records keys, processes and windows that the API lists and searches on the session clock', async () => {
    windows.push(onDisplay('xterm', ['-T', TITLE, '-geometry', '80x20+0+0', '-e', 'bash', '--norc', '--noprofile']));
    xdotool(['search', '--sync', '--onlyvisible', '--name', `^${TITLE}$`]);

    const launcher = runLauncher([
      '--user',
      'e2e-activity',
      '--target',
      'xvfb-activity',
      '--source',
      'x11',
      '--verbose',
    ]);
    // Until stopped below, once the server has everything this test typed.
    const listEvents = async () =>
      (await json<{ events: ApiEvent[] }>(`/sessions/${sessionId}/activity?limit=5000`)).events;
    const sessionId = await launcher.sessionId;
    await waitFor('the first frame', async () => /first frame captured at/.test(launcher.output()), {
      timeoutMs: 30_000,
    });

    xdotool(['search', '--onlyvisible', '--name', `^${TITLE}$`, 'windowfocus', '--sync']);
    xdotool(['type', '--delay', '40', `echo hello-witness ${marker}\n`]);
    xdotool(['type', '--delay', '40', 'sleep 2\n']);
    // A 5 ms process, and a shell that execs another program (the same pid, a new program).
    xdotool(['type', '--delay', '40', `sleep 0.005; sh -c 'exec sleep 0.3' ${marker}\n`]);
    // The `sleep 2` ran and ended, as the server heard from the launcher (batches go out every 2 s).
    await waitFor(
      'the server to list the end of `sleep 2`',
      async () => {
        const listed = await listEvents();
        const start = listed.find((e) => e.type === 'process.start' && e.name === 'sleep' && e.text === 'sleep 2');
        return start && listed.some((e) => e.type === 'process.stop' && e.pid === start.pid);
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    await waitFor(
      "the server to list the program the shell exec'd, ended",
      async () => {
        const listed = await listEvents();
        const execd = listed.find((e) => e.type === 'process.start' && e.text === 'sleep 0.3');
        return execd && listed.some((e) => e.type === 'process.stop' && e.pid === execd.pid && e.name === 'sleep');
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    // A secret on a command line, typed and run.
    xdotool(['type', '--delay', '40', `PATH=${bin}:$PATH mysql -uadmin -p${DB_SECRET} orders\n`]);
    // Another user of the machine runs programs meanwhile, even with the session's display and marker set:
    // not the session's user, not started from it, so none of it is the session's.
    const other = spawn(
      'runuser',
      [
        '-u',
        'nobody',
        '--',
        'env',
        `DISPLAY=${display}`,
        `WITNESS_SESSION=${sessionId}`,
        'sh',
        '-c',
        `sleep 0.5; true ${OTHER}`,
      ],
      { stdio: 'ignore' },
    );
    const otherExit = new Promise((resolve) => other.on('exit', resolve));
    await waitFor(
      'the server to list the mysql run',
      async () => (await listEvents()).some((e) => e.type === 'process.start' && e.name === 'mysql'),
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    await otherExit;
    windows.push(onDisplay('xterm', ['-T', PROMPT_TITLE, '-geometry', '80x20+100+100', '-e', 'cat']));
    xdotool(['search', '--sync', '--onlyvisible', '--name', `password for ${marker}`, 'windowfocus', '--sync']);
    xdotool(['type', '--delay', '40', '--file', '-'], `${SECRET}\n`);
    // The run typed into the prompt ends after a 2 s pause and goes out with the next batch.
    await waitFor(
      'the server to list the keys typed into the password prompt',
      async () => (await listEvents()).some((e) => e.type === 'keys' && e.title === PROMPT_TITLE),
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    launcher.child.kill('SIGTERM');

    const { code, stderr } = await launcher.exit;
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/activity event\(s\) in [1-9]\d* batch\(es\)/);
    expect(stderr).not.toMatch(/rejected|activity batches not stored/);

    const sealed = await waitFor('the recording to be sealed', async () => {
      const view = await session(sessionId);
      return view.recording.status === 'ready' ? view : null;
    });
    const duration = sealed.recording.mediaDurationMs ?? 0;
    expect(duration).toBeGreaterThan(5_000);

    const events = await listEvents();
    const offsets = events.map((e) => e.offsetMs);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    for (const event of events) {
      expect(event.offsetMs, JSON.stringify(event)).toBeGreaterThanOrEqual(0);
      expect(event.offsetMs, JSON.stringify(event)).toBeLessThanOrEqual(duration + 1_000);
    }

    const typed = events.find((e) => e.type === 'keys' && e.text?.includes(`echo hello-witness ${marker}<Enter>`));
    expect(typed, JSON.stringify(events.filter((e) => e.type === 'keys'))).toMatchObject({
      title: TITLE,
      app: 'XTerm',
      redacted: false,
    });
    expect(typed?.endMs ?? 0).toBeGreaterThan(typed?.offsetMs ?? 0);

    const redacted = events.find((e) => e.type === 'keys' && e.title === PROMPT_TITLE);
    expect(redacted).toMatchObject({ text: '<redacted>', redacted: true });
    expect(JSON.stringify(events)).not.toContain(SECRET);

    const start = events.find((e) => e.type === 'process.start' && e.name === 'sleep' && e.text === 'sleep 2');
    expect(start).toMatchObject({ path: '/usr/bin/sleep' });
    const stop = events.find((e) => e.type === 'process.stop' && e.pid === start?.pid);
    expect(stop).toMatchObject({ name: 'sleep', path: '/usr/bin/sleep' });
    expect((stop?.offsetMs ?? 0) - (start?.offsetMs ?? 0)).toBeGreaterThan(1_500);

    // Every process however short (the kernel's process events: the method the session's record names).
    const short = events.find((e) => e.type === 'process.start' && e.text === 'sleep 0.005');
    expect(short, JSON.stringify(events.filter((e) => e.type.startsWith('process')))).toMatchObject({
      name: 'sleep',
      path: '/usr/bin/sleep',
    });
    expect(events.some((e) => e.type === 'process.stop' && e.pid === short?.pid)).toBe(true);
    const shell = events.find((e) => e.type === 'process.start' && e.text === `sh -c 'exec sleep 0.3' ${marker}`);
    expect(shell).toMatchObject({ name: 'sh' });
    const execd = events.filter((e) => e.pid === shell?.pid).map((e) => [e.type, e.name, e.text]);
    expect(execd).toEqual([
      ['process.start', 'sh', `sh -c 'exec sleep 0.3' ${marker}`],
      ['process.stop', 'sh', null],
      ['process.start', 'sleep', 'sleep 0.3'],
      ['process.stop', 'sleep', null],
    ]);
    const { capture } = (await (await api(`/sessions/${sessionId}`)).json()) as { capture: CaptureStatus | null };
    expect(capture).toEqual({ processes: { method: 'netlink', excluded: expect.any(Number), lost: 0 } });

    // The typed secret: a marker in the keystrokes and in the command line, found by no search.
    const mysql = events.find((e) => e.type === 'process.start' && e.name === 'mysql');
    // A script: the kernel runs it as `/bin/sh /path/to/mysql …`, the arguments as typed.
    expect(mysql?.text).toMatch(/\/mysql -uadmin -p<redacted:[a-z-]+> orders$/);
    expect(JSON.stringify(events)).not.toContain(DB_SECRET);
    // The unrelated user's programs are not the session's.
    expect(events.filter((e) => e.user === 'nobody' || e.text?.includes(OTHER))).toEqual([]);

    const focus = events.filter((e) => e.type === 'window.focus');
    expect(focus.find((e) => e.title === TITLE)).toMatchObject({ app: 'XTerm' });
    expect(focus.find((e) => e.title === PROMPT_TITLE)).toMatchObject({ app: 'XTerm' });

    // Filtered within the session: the typed text, and only keys.
    const query = encodeURIComponent(`hello-witness ${marker}`);
    const found = await json<{ events: ApiEvent[] }>(`/sessions/${sessionId}/activity?q=${query}&type=keys`);
    expect(found.events.map((e) => e.id)).toEqual([typed?.id]);

    // Across sessions: keystrokes, processes and windows each find this session, at the event's moment.
    const search = (q: string, within: string) =>
      json<SearchResult>(`/sessions?q=${encodeURIComponent(q)}&in=${within}`);
    const byKeys = await search(`hello-witness ${marker}`, 'keystrokes');
    const hit = byKeys.sessions.find((s) => s.id === sessionId);
    expect(hit?.matches?.[0]).toMatchObject({ type: 'keys', offsetMs: typed?.offsetMs });
    expect(hit?.matches?.[0]?.snippet).toContain(marker);
    expect((await search('/usr/bin/sleep', 'processes')).sessions.map((s) => s.id)).toContain(sessionId);
    expect((await search(TITLE, 'windows')).sessions.map((s) => s.id)).toContain(sessionId);
    // The password was never stored, so it is found nowhere.
    expect((await search(SECRET, 'keystrokes,processes,windows')).sessions).toEqual([]);
    expect((await search(DB_SECRET, 'keystrokes,processes,windows')).sessions).toEqual([]);
    expect((await search(OTHER, 'processes')).sessions).toEqual([]);

    // Offline: the activity as fetched is what the signed manifest's digest covers, event for event.
    const evidence = fetchEvidence(sessionId);
    try {
      expect(evidence.fetched.status, evidence.fetched.stderr).toBe(0);
      const verified = evidence.verify({ pieces: true, activity: true });
      expect(verified.stdout).toMatch(new RegExp(`ok {4}activity {3}${events.length} events`));
      expect(verified.stdout.trim().split('\n').at(-1), verified.stdout + verified.stderr).toBe('VERIFIED');
      expect(verified.stderr).not.toMatch(/Not checked/);
      expect(verified.status).toBe(0);
    } finally {
      evidence.remove();
    }
  });
});
