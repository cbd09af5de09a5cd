/**
 * The players in Debian's Chromium: Watch Live on a real launcher's session (moving picture, LIVE, delay,
 * reconnect after a dropped socket, terminate), and Watch Recording with activity posted through ingest
 * (grid → seek, details, search marks on the activity map, keyboard, hostile text, 20,000 events).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleTab,
  eventually,
  launchChromium,
  openConsole,
  openTab,
  screenshot,
  signIn,
  videoState,
  videoTime,
} from './console.ts';
import type { Density } from '../../client/src/activity.ts';
import { screenChange } from '../../client/src/player/idle.ts';
import { adminPassword, api, baseUrl, display, root, runLauncher, session } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';

let browser: Browser;
const tabs: ConsoleTab[] = [];

async function openSignedIn(): Promise<ConsoleTab> {
  const tab = await openConsole(browser);
  tabs.push(tab);
  await signIn(tab.page, 'admin', adminPassword);
  return tab;
}

/** A session launched through the API: its id and the ingest token a launcher would get. */
async function launch(user: string, target: string): Promise<{ sessionId: string; token: string }> {
  const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user, target }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { sessionId: string; token: string };
}

/** Posts one activity batch with the session's ingest token, as a launcher does. */
async function postEvents(sessionId: string, token: string, batch: number, events: unknown[]): Promise<void> {
  const res = await fetch(`${baseUrl}/ingest/v1/sessions/${sessionId}/events/${batch}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  const ack = (await res.json()) as { stored: number; rejected: unknown[] };
  expect(res.status, JSON.stringify(ack)).toBe(201);
  expect(ack.rejected).toEqual([]);
}

/**
 * Records a launched session with the real launcher (`witness-launcher record`) and waits until it is sealed.
 * The launcher reports every process its user starts on this (shared) machine; `alone` runs it in a PID
 * namespace of its own (util-linux `unshare`, unprivileged), where the only processes are its own helpers, so
 * the session's activity is exactly what the test posted.
 */
async function record(
  sessionId: string,
  token: string,
  seconds: number,
  { source = 'testsrc', alone = false } = {},
): Promise<void> {
  const spool = mkdtempSync(path.join(tmpdir(), 'witness-e2e-spool-'));
  const namespace = ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--mount-proc'];
  const [command, ...prefix] = alone ? [...namespace, process.execPath] : [process.execPath];
  const child = spawn(
    command as string,
    [
      ...prefix,
      path.join(root, 'agents/launcher/bin/witness-launcher.mjs'),
      'record',
      '--server',
      baseUrl,
      '--session',
      sessionId,
      '--token',
      token,
      '--spool',
      spool,
      '--source',
      source,
      '--seconds',
      String(seconds),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPLAY: display } },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d));
  child.stderr?.on('data', (d: Buffer) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, output).toBe(0);
  await waitFor('the recording to be sealed', async () => (await session(sessionId)).recording.status === 'ready');
}

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  for (const tab of tabs) {
    // Every page ran without CSP violations, script errors or dialogs.
    expect(tab.problems).toEqual([]);
    expect(tab.dialogs).toEqual([]);
  }
  await browser?.close();
});

describe('Watch Live', () => {
  it('shows the moving picture with LIVE and its delay, reconnects after a dropped socket, and terminates', async () => {
    const launcher = runLauncher([
      '--user',
      'live-e2e',
      '--target',
      'live-box',
      '--source',
      'testsrc',
      '--seconds',
      '40',
    ]);
    const sessionId = await launcher.sessionId;
    await waitFor('the session to be active with pieces stored', async () => {
      const view = await session(sessionId);
      return view.status === 'active' && view.recording.pieces >= 2;
    });

    const { page } = await openSignedIn();
    // The live sockets pass through to the server, but the test can drop them as a network failure would;
    // the second one is refused at once, so the page has to back off and try a third time.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/api\/v1\/sessions\/[0-9a-f-]+\/live(\?tab=[\w-]+)?$/, (ws) => {
      sockets.push(ws);
      if (sockets.length === 2) void ws.close({ code: 1011, reason: 'refused by the test' });
      else ws.connectToServer();
    });

    const row = page.getByRole('row', { name: /live-e2e/ });
    await row.waitFor();
    await screenshot(page, 'watch-live-sessions-list');
    await row.getByRole('link', { name: 'Watch live' }).click();
    await page.getByRole('heading', { name: 'Live: live-e2e on live-box' }).waitFor();
    await page.getByRole('img', { name: 'Live' }).waitFor();

    // The picture moves: once it plays, the video's clock keeps advancing while we watch.
    const playing = () => videoState(page).then((v) => !v.paused && v.readyState >= 3 && v.currentTime > 0);
    await eventually(playing).toBe(true);
    const before = await videoTime(page);
    await eventually(() => videoTime(page)).toBeGreaterThan(before + 2.5);
    // The page says how far behind live it is (how far, on a loaded machine, is bench/live-latency.ts's to
    // measure, not this test's).
    const delay = (await page.locator('.delay').textContent()) ?? '';
    expect(delay).toMatch(/^Delay \d+\.\d s/);
    expect(await page.locator('.viewers').textContent()).toContain('admin');
    await screenshot(page, 'watch-live');

    // A dropped socket: the page says so, reconnects by itself, and the picture moves again.
    await sockets[0]?.close({ code: 1011, reason: 'dropped by the test' });
    await page.getByRole('status').filter({ hasText: 'reconnecting' }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'watch-live-reconnecting');
    await page.getByRole('img', { name: 'Live' }).waitFor({ timeout: 20_000 });
    expect(sockets.length).toBe(3);
    await eventually(playing).toBe(true);
    const resumed = await videoTime(page);
    await eventually(() => videoTime(page)).toBeGreaterThan(resumed + 1.5);

    await page.getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog', { name: 'live-e2e on live-box' });
    await dialog.getByLabel('Message to the user').fill('Ended from Watch Live.');
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    const ended = page.locator('.session-ended');
    await eventually(() => ended.textContent()).toContain('The session ended (terminated by admin).');
    expect(await page.getByRole('img', { name: 'Live' }).count()).toBe(0);
    expect((await launcher.exit).code).toBe(3);
    await page.getByRole('link', { name: 'Watch the recording' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'watch-live-ended');
    expect(await session(sessionId)).toMatchObject({ status: 'ended', endReason: 'terminated_by_admin' });
  });
});

describe('Watch Recording', () => {
  const IMG = '<img src=x onerror="window.__xss=1">';
  const SCRIPT = '<script>window.__xss=2</script>';
  const TITLE = '<img src=x onerror="window.__xss=3">';
  let sessionId: string;
  /** Signed in once: sign-ins are throttled per address (10 a minute), and the other test files sign in too. */
  let signedIn: ConsoleTab;

  /** A new page of the signed-in context, with the console open. */
  async function openPage(): Promise<Page> {
    const tab = await openTab(signedIn.context);
    tabs.push(tab);
    await tab.page.getByText('Signed in as admin', { exact: true }).waitFor();
    return tab.page;
  }

  beforeAll(async () => {
    const launched = await launch('player-e2e', 'db-07.prod');
    sessionId = launched.sessionId;
    await postEvents(sessionId, launched.token, 0, [
      { type: 'window.focus', atMs: 400, title: 'player-e2e@db-07: ~', app: 'xterm', pid: 4242 },
      {
        type: 'keys',
        atMs: 1000,
        endMs: 1800,
        text: 'sudo systemctl restart nginx<Enter>',
        window: { title: 'player-e2e@db-07: ~', app: 'xterm' },
      },
      {
        type: 'process.start',
        atMs: 2500,
        pid: 5150,
        ppid: 4242,
        name: 'systemctl',
        path: '/usr/bin/systemctl',
        commandLine: 'systemctl restart nginx',
        user: 'root',
      },
      { type: 'keys', atMs: 3300, endMs: 3900, text: `${IMG}<Enter>`, window: { title: SCRIPT, app: 'xterm' } },
      {
        type: 'process.start',
        atMs: 5600,
        pid: 5151,
        ppid: 4242,
        name: 'nano',
        path: '/usr/bin/nano',
        commandLine: 'nano /etc/nginx/nginx.conf',
        user: 'player-e2e',
      },
      { type: 'process.stop', atMs: 7000, pid: 5151, name: 'nano', path: '/usr/bin/nano', user: 'player-e2e' },
      // A window whose title tries to inject markup (after nano started: its window stays the xterm above).
      { type: 'window.focus', atMs: 7200, title: TITLE, app: 'xterm', pid: 4242 },
    ]);
    await record(sessionId, launched.token, 8);
    signedIn = await openSignedIn();
  });

  /** Opens the player from the Sessions list's Ended tab. */
  async function openPlayer(): Promise<{ page: Page }> {
    const page = await openPage();
    await page.getByRole('button', { name: 'Ended' }).click();
    await page
      .getByRole('row', { name: /player-e2e/ })
      .getByRole('link', { name: 'Watch recording' })
      .click();
    await page.getByRole('heading', { name: 'Recording: player-e2e on db-07.prod' }).waitFor();
    await page.getByRole('row', { name: /nano \/etc\/nginx/ }).waitFor();
    await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1);
    return { page };
  }

  it('selecting an activity row moves the video to it and shows the event in full', async () => {
    const { page } = await openPlayer();
    await page.locator('.activity-map canvas').waitFor();
    await screenshot(page, 'watch-recording');
    expect(await page.getByRole('link', { name: 'Download WebM' }).getAttribute('href')).toBe(
      `/api/v1/sessions/${sessionId}/recording.webm?download=1`,
    );
    // What an auditor downloads; a video has no transcript.
    const exports = page.getByLabel('Exports');
    expect(await exports.getByRole('link', { name: 'Activity CSV' }).getAttribute('href')).toBe(
      `/api/v1/sessions/${sessionId}/activity.csv`,
    );
    expect(await exports.getByRole('link', { name: 'Activity JSON' }).getAttribute('href')).toBe(
      `/api/v1/sessions/${sessionId}/activity.json`,
    );
    expect(await exports.getByRole('link', { name: 'Transcript' }).count()).toBe(0);
    const download = page.waitForEvent('download');
    await exports.getByRole('link', { name: 'Activity CSV' }).click();
    const csv = await readFile((await (await download).path()) as string, 'utf8');
    expect(csv.split('\n')[0]).toMatch(/^offsetMs,time,wallClock,type,/);
    expect(csv).toContain('systemctl restart nginx');

    await page.getByRole('row', { name: /nano \/etc\/nginx/ }).click();
    await eventually(() => videoTime(page)).toBeCloseTo(5.6, 0);
    const details = page.getByRole('region', { name: 'Program started at 0:05.6' });
    await details.waitFor();
    const text = (await details.textContent()) ?? '';
    for (const expected of ['/usr/bin/nano', 'nano /etc/nginx/nginx.conf', 'player-e2e', '5151 (parent 4242)']) {
      expect(text).toContain(expected);
    }
    // The window in focus when it started, from the window.focus event before it.
    expect(text).toContain('player-e2e@db-07: ~ (xterm)');
    await screenshot(page, 'watch-recording-selected');

    // An earlier row moves the video back.
    await page.getByRole('row', { name: /systemctl restart nginx$/ }).click();
    await eventually(() => videoTime(page)).toBeCloseTo(2.5, 0);
  });

  it('search within the session marks its matches on the activity map, and a mark moves the video', async () => {
    const { page } = await openPlayer();
    await page.getByLabel('Search within the session').fill('systemctl');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const marks = page.getByRole('list', { name: 'Search matches on the activity map' }).getByRole('button');
    await eventually(() => marks.count()).toBe(2);
    expect(await marks.nth(0).getAttribute('aria-label')).toBe(
      'Match at 0:01.0: Keys sudo systemctl restart nginx<Enter>',
    );
    expect(await marks.nth(1).getAttribute('aria-label')).toBe(
      'Match at 0:02.5: Program started systemctl restart nginx',
    );
    await eventually(() => page.getByRole('status').filter({ hasText: 'matches' }).textContent()).toContain(
      '2 matches for “systemctl”',
    );
    await screenshot(page, 'watch-recording-search');

    await marks.nth(1).click();
    await eventually(() => videoTime(page)).toBeCloseTo(2.5, 0);
    await marks.nth(0).click();
    await eventually(() => videoTime(page)).toBeCloseTo(1, 0);
  });

  it('plays, skips and changes speed from the keyboard', async () => {
    const { page } = await openPlayer();
    await page.getByRole('heading', { name: /^Recording:/ }).click();
    await page.keyboard.press('Space');
    await eventually(() => videoState(page).then((v) => v.paused)).toBe(false);
    await page.keyboard.press('Space');
    await eventually(() => videoState(page).then((v) => v.paused)).toBe(true);
    const at = await videoTime(page);
    await page.keyboard.press('ArrowRight');
    await eventually(() => videoTime(page)).toBeCloseTo(at + 5, 0);
    await page.keyboard.press('ArrowLeft');
    await eventually(() => videoTime(page)).toBeCloseTo(at, 0);
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await eventually(() => videoState(page).then((v) => v.playbackRate)).toBe(4);
    await eventually(() => page.getByLabel('Speed').inputValue()).toBe('4');
    await page.keyboard.press('-');
    await eventually(() => videoState(page).then((v) => v.playbackRate)).toBe(2);
    // The timeline slider is reachable by Tab and moves by 5 s with the arrows too.
    await page.getByRole('slider', { name: 'Timeline' }).focus();
    const before = await videoTime(page);
    await page.keyboard.press('ArrowRight');
    await eventually(() => videoTime(page)).toBeGreaterThan(before + 2);
    expect(await page.getByText('Keyboard: Space play/pause').count()).toBe(1);
  });

  it('shows recorded markup as text', async () => {
    const { page } = await openPlayer();
    const row = page.getByRole('row').filter({ hasText: `${IMG}<Enter>` });
    expect(await row.getByRole('cell').nth(2).textContent()).toBe(`${IMG}<Enter>`);
    await row.click();
    const details = page.getByRole('region', { name: 'Keys at 0:03.3–0:03.9' });
    await eventually(() => details.textContent()).toContain(`${SCRIPT} (xterm)`);
    // A window title that is markup: text in the grid and in the details, never an element.
    const titled = page.getByRole('row').filter({ hasText: 'window.__xss=3' });
    expect(await titled.getByRole('cell').nth(2).textContent()).toBe(`${TITLE} — xterm`);
    await titled.click();
    await eventually(() => page.getByRole('region', { name: /at 0:07\.2/ }).textContent()).toContain(TITLE);
    await screenshot(page, 'watch-recording-hostile-text');
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
    expect(await page.locator('main img, main script').count()).toBe(0);
  });

  it('skip inactivity jumps over a still screen where nothing was typed', async () => {
    // The test display shows nothing but its root window: a still screen, with keystroke runs at 1.5 s and
    // 13 s. (The launcher captures activity on x11 too; its batches count from 0, so ours is 1000.)
    const launched = await launch('idle-e2e', 'quiet-box');
    await postEvents(launched.sessionId, launched.token, 1000, [
      { type: 'keys', atMs: 1500, endMs: 1700, text: 'uptime<Enter>' },
      { type: 'keys', atMs: 13000, endMs: 13200, text: 'exit<Enter>' },
    ]);
    await record(launched.sessionId, launched.token, 15, { source: 'x11', alone: true });

    // The real media of a still screen reads as still, keyframes and all, between the two runs; and nothing
    // else happened there (no process, no window, no keys).
    const buckets = 700;
    const density = (await (
      await api(`/sessions/${launched.sessionId}/activity/density?buckets=${buckets}`)
    ).json()) as Density;
    const quiet = density.buckets.filter((b) => b.startMs >= 2000 && b.startMs + density.bucketMs <= 12_500);
    expect(quiet.filter((b) => b.keystrokes + b.processEvents + b.windowChanges > 0)).toEqual([]);
    const change = screenChange(density.buckets, density.bucketMs);
    const between = change.filter((_, i) => i * density.bucketMs >= 2000 && (i + 1) * density.bucketMs <= 12_500);
    expect(between.length).toBeGreaterThan(0);
    const changed = density.buckets.filter((_, i) => (change[i] ?? 0) > 0).map((b) => b.startMs);
    const pieces = density.buckets.filter((b) => b.screenBytes > 0).map((b) => [b.startMs, b.screenBytes]);
    expect(
      between.every((c) => c === 0),
      `changed at ${changed} ms; pieces ${JSON.stringify(pieces)}`,
    ).toBe(true);

    const page = await openPage();
    await page.evaluate((hash) => {
      location.hash = hash;
    }, `#/sessions/${launched.sessionId}/recording`);
    await page.locator('.activity-map canvas').waitFor();
    await page.getByRole('row', { name: /uptime/ }).click();
    await eventually(() => videoTime(page)).toBeCloseTo(1.5, 0);
    await page.getByLabel('Skip inactivity').check();
    // Every skip's note, with where the video was when it showed. Only the first is this test's: on a busy
    // machine the recording runs on past the command, and a still tail of 3 s or more is rightly skipped too.
    // And every seek, with where it landed: playing never seeks, a skip does.
    await page.evaluate(() => {
      const note = document.querySelector('.skip-note') as HTMLElement;
      const video = document.querySelector('video') as HTMLVideoElement;
      const notes: [string, number][] = [];
      const seeks: number[] = [];
      Object.assign(window, { skipNotes: notes, seeks });
      new MutationObserver(() => {
        const text = note.textContent ?? '';
        if (text && text !== notes.at(-1)?.[0]) notes.push([text, video.currentTime]);
      }).observe(note, { subtree: true, childList: true, characterData: true });
      video.addEventListener('seeking', () => seeks.push(video.currentTime));
    });
    await page.getByRole('button', { name: 'Play' }).click();
    // The skip jumps the still stretch in one seek, and stops at the next run (13 s).
    await eventually(() => videoTime(page)).toBeGreaterThan(12.5);
    const seeks = await page.evaluate(() => (window as unknown as { seeks: number[] }).seeks);
    expect(
      seeks.filter((at) => at > 12.5 && at < 13.5),
      `seeks to ${seeks}`,
    ).toHaveLength(1);
    const notes = () => page.evaluate(() => (window as unknown as { skipNotes: [string, number][] }).skipNotes);
    await eventually(async () => (await notes()).length).toBeGreaterThan(0);
    const [first] = await notes();
    expect(first?.[0]).toMatch(/^Skipped 0:1[01] without activity\.$/);
    expect(first?.[1]).toBeGreaterThan(12.5);
    expect(first?.[1]).toBeLessThan(13.5);
    await screenshot(page, 'watch-recording-skip-inactivity');
  });

  it('draws the activity map of a session with 20,000 events, every one counted', async () => {
    const launched = await launch('busy-e2e', 'build-01');
    const types = ['keys', 'process.start', 'window.focus', 'process.stop'] as const;
    for (let batch = 0; batch < 40; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => {
        const n = batch * 500 + i;
        const atMs = Math.floor((n * 7919) % 8000);
        switch (types[n % 4]) {
          case 'keys':
            return { type: 'keys', atMs, endMs: atMs + 50, text: `ls -la /var/log/${n}<Enter>` };
          case 'process.start':
            return {
              type: 'process.start',
              atMs,
              pid: n,
              name: 'ls',
              path: '/usr/bin/ls',
              commandLine: `ls ${n}`,
              user: 'ci',
            };
          case 'window.focus':
            return { type: 'window.focus', atMs, title: `build ${n}`, app: 'xterm' };
          default:
            return { type: 'process.stop', atMs, pid: n, name: 'ls', path: '/usr/bin/ls', user: 'ci' };
        }
      });
      await postEvents(launched.sessionId, launched.token, batch, events);
    }
    await record(launched.sessionId, launched.token, 8);

    const page = await openPage();
    await page.evaluate((hash) => {
      location.hash = hash;
    }, `#/sessions/${launched.sessionId}/recording`);
    await page.getByRole('heading', { name: 'Recording: busy-e2e on build-01' }).waitFor();
    await page.locator('.activity-map canvas').waitFor();
    // Every event loads, page after page (the count beside the grid's Follow toggle).
    await page.getByText('20,000 events', { exact: true }).waitFor({ timeout: 60_000 });
    // The map has drawn (it measures each draw as `activity-map-draw`).
    await page.waitForFunction(() => performance.getEntriesByName('activity-map-draw').length > 0);
    const figures = await page.evaluate(() => {
      const canvas = document.querySelector('.activity-map canvas') as HTMLCanvasElement;
      return {
        canvasWidth: canvas.width,
        rows: document.querySelectorAll('table.activity-grid tbody tr').length,
      };
    });
    const density = (await (
      await api(`/sessions/${launched.sessionId}/activity/density?buckets=${figures.canvasWidth}`)
    ).json()) as { buckets: Array<{ keystrokes: number; processEvents: number; windowChanges: number }> };
    const events = density.buckets.reduce((sum, b) => sum + b.processEvents + b.windowChanges, 0);
    await screenshot(page, 'watch-recording-20000-events');
    expect(events).toBe(15_000); // the process and window events, all counted in the map's buckets
    // Rendered are only the rows in view (and a few around them), not 20,000.
    expect(figures.rows).toBeGreaterThan(5);
    expect(figures.rows).toBeLessThan(100);
    // How fast it draws, and whether the page janks while it loads, is bench/console-map.ts's to measure
    // (draw time and long tasks, against a 200-event baseline): a timing bound here only fails on a busy
    // machine.
  });
});
