/**
 * The activity grid and map lead the eye (#17 item 3), in Debian's Chromium against the real server, on a
 * session recorded by the real launcher: the grid follows the playhead (and stops when the user scrolls it),
 * the type filter and search within the session narrow it, the map's tooltip tells what a bucket holds, and
 * the window and programs at the playhead are the recorded ones.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clock } from '../../client/src/format.ts';
import { waitFor } from '../support/wait-for.ts';
import { type ConsoleTab, eventually, launchChromium, openTab, results, signIn, videoTime } from './console.ts';
import { adminPassword, api, baseUrl, display, root, session } from './helpers.ts';

let browser: Browser;
let tab: ConsoleTab;
let sessionId: string;

/** Keystroke runs every 30 ms, but none in 2–3 s: the bucket of `nano`'s start holds only it. */
const KEYS = Array.from({ length: 320 }, (_, i) => 40 + i * 30)
  .filter((atMs) => atMs < 2000 || atMs >= 3000)
  .map((atMs) => ({ type: 'keys', atMs, endMs: atMs + 20, text: `k${atMs}` }));
const EVENTS = [
  { type: 'window.focus', atMs: 0, title: 'grid-e2e@web-01: ~', app: 'xterm', pid: 4300 },
  {
    type: 'process.start',
    atMs: 2500,
    pid: 6001,
    ppid: 4300,
    name: 'nano',
    path: '/usr/bin/nano',
    commandLine: 'nano /etc/hosts',
    user: 'grid-e2e',
  },
  { type: 'window.focus', atMs: 4010, title: 'Release notes', app: 'firefox', pid: 4400 },
  {
    type: 'process.start',
    atMs: 4520,
    pid: 6002,
    ppid: 4300,
    name: 'top',
    path: '/usr/bin/top',
    commandLine: 'top',
    user: 'grid-e2e',
  },
  { type: 'process.stop', atMs: 6010, pid: 6001, name: 'nano', path: '/usr/bin/nano', user: 'grid-e2e' },
  ...KEYS,
].sort((a, b) => a.atMs - b.atMs);
/** Every event's time, in the order the grid lists them. */
const TIMES = EVENTS.map((e) => e.atMs);

/**
 * Records the session with the real launcher in a PID namespace of its own (util-linux `unshare`), where the
 * only processes are its own helpers: the session's activity is exactly what the test posted.
 */
async function recordAlone(id: string, token: string, seconds: number): Promise<void> {
  const spool = mkdtempSync(path.join(tmpdir(), 'witness-e2e-spool-'));
  const child = spawn(
    'unshare',
    [
      ...['--user', '--map-root-user', '--pid', '--fork', '--mount-proc', process.execPath],
      path.join(root, 'agents/launcher/bin/witness-launcher.mjs'),
      ...['record', '--server', baseUrl, '--session', id, '--token', token, '--spool', spool],
      ...['--source', 'testsrc', '--seconds', String(seconds)],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPLAY: display } },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d));
  child.stderr?.on('data', (d: Buffer) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, output).toBe(0);
  await waitFor('the recording to be sealed', async () => (await session(id)).recording.status === 'ready');
}

beforeAll(async () => {
  const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user: 'grid-e2e', target: 'web-01' }) });
  expect(res.status).toBe(201);
  const launched = (await res.json()) as { sessionId: string; token: string };
  sessionId = launched.sessionId;
  for (let batch = 0; batch * 500 < EVENTS.length; batch++) {
    const posted = await fetch(`${baseUrl}/ingest/v1/sessions/${sessionId}/events/${batch}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${launched.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: EVENTS.slice(batch * 500, (batch + 1) * 500) }),
    });
    expect(posted.status, await posted.clone().text()).toBe(201);
  }
  await recordAlone(sessionId, launched.token, 10);
  browser = await launchChromium();
  tab = await openTab(await browser.newContext({ viewport: { width: 1280, height: 800 } }));
  await signIn(tab.page, 'admin', adminPassword);
});

afterAll(async () => {
  // The pages ran without CSP violations, script errors or dialogs.
  expect(tab?.problems).toEqual([]);
  expect(tab?.dialogs).toEqual([]);
  await browser?.close();
});

async function openRecording(): Promise<Page> {
  const { page } = tab;
  await page.evaluate((hash) => {
    location.hash = hash;
  }, `#/sessions/${sessionId}/recording`);
  await page.getByRole('heading', { name: 'Recording: grid-e2e on web-01' }).waitFor();
  await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1);
  // Every event loaded (the count beside the Follow toggle).
  await page.getByText(`${EVENTS.length} events`, { exact: true }).waitFor();
  await page.locator('.activity-map canvas').waitFor();
  return page;
}

/** The highlighted row's time, and whether it lies inside the grid's scrolled box. */
function playheadRow(page: Page): Promise<{ offsetMs: number; inView: boolean } | null> {
  return page.evaluate(() => {
    const row = document.querySelector<HTMLElement>('table.activity-grid tr.at-playhead');
    const box = document.querySelector('.grid-scroll');
    if (!row || !box) return null;
    const r = row.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    return { offsetMs: Number(row.dataset.offsetMs), inView: r.top >= b.top && r.bottom <= b.bottom + 1 };
  });
}

/** The last recorded event at or before `ms`. */
function lastAtOrBefore(ms: number): number {
  return TIMES.filter((t) => t <= ms).at(-1) ?? -1;
}

/** Clicks the activity map at `ms` on the player's clock (the map spans the video's duration). */
async function clickMapAt(page: Page, ms: number): Promise<void> {
  const spanMs = await page.evaluate(() => (document.querySelector('video')?.duration ?? 0) * 1000);
  const box = await page.locator('.activity-map canvas').boundingBox();
  if (!box) throw new Error('no activity map');
  await page.mouse.click(box.x + (ms / spanMs) * box.width, box.y + box.height / 2);
}

async function screenshots(page: Page, name: string): Promise<void> {
  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    await page.setViewportSize(viewport);
    await page.screenshot({
      path: path.join(results, 'screenshots', `${name}-${viewport.width}x${viewport.height}.png`),
    });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe('the activity grid and map', () => {
  it('follows the playhead while playing and after a seek, until the user scrolls the grid', async () => {
    const page = await openRecording();
    const follow = page.getByRole('button', { name: /^Follow: / });
    expect(await follow.getAttribute('aria-pressed')).toBe('true');

    // A seek far down the grid (row ~250 of 290): the row at or before it is highlighted and scrolled to.
    await clickMapAt(page, 8200);
    await eventually(async () => (await videoTime(page)) * 1000).toBeGreaterThan(7500);
    const afterSeek = await videoTime(page);
    await eventually(async () => (await playheadRow(page))?.offsetMs).toBe(lastAtOrBefore(afterSeek * 1000));
    expect((await playheadRow(page))?.inView).toBe(true);

    // Playing from near the start: the highlighted row moves with the video and stays in view.
    await clickMapAt(page, 1000);
    await eventually(async () => (await videoTime(page)) * 1000).toBeLessThan(1800);
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await eventually(() => videoTime(page)).toBeGreaterThan(5);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const paused = await videoTime(page);
    await eventually(async () => (await playheadRow(page))?.offsetMs).toBe(lastAtOrBefore(paused * 1000));
    expect((await playheadRow(page))?.inView).toBe(true);
    await screenshots(page, 'activity-grid-follow');

    // The user scrolls the grid: following stops, and the toggle says so.
    await page.locator('.grid-scroll').hover();
    await page.mouse.wheel(0, -2000);
    await eventually(() => follow.getAttribute('aria-pressed')).toBe('false');
    expect(await follow.textContent()).toContain('off');
    await eventually(async () => (await playheadRow(page))?.inView ?? false).toBe(false);
    // Turned back on, it goes back to the row at the playhead.
    await follow.click();
    await eventually(async () => (await playheadRow(page))?.inView).toBe(true);
  });

  it('hides the kinds the type filter turns off, and search within the session filters the rows', async () => {
    const page = await openRecording();
    const chips = page.getByRole('list', { name: 'Show events of type' }).getByRole('button');
    expect(await chips.allTextContents()).toEqual([
      `Keys ${KEYS.length}`,
      'Program started 2',
      'Program ended 1',
      'Window 2',
    ]);
    await chips.filter({ hasText: 'Keys' }).click();
    await page.getByText('5 events', { exact: true }).waitFor();
    const types = await page
      .locator('table.activity-grid tbody tr:not(.grid-spacer) td:nth-child(2)')
      .allTextContents();
    expect(types.sort()).toEqual(['Program ended', 'Program started', 'Program started', 'Window', 'Window']);
    await chips.filter({ hasText: 'Window' }).click();
    await page.getByText('3 events', { exact: true }).waitFor();
    await screenshots(page, 'activity-grid-type-filter');
    await chips.filter({ hasText: 'Keys' }).click();
    await chips.filter({ hasText: 'Window' }).click();
    await page.getByText(`${EVENTS.length} events`, { exact: true }).waitFor();

    await page.getByLabel('Search within the session').fill('nano');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('2 events', { exact: true }).waitFor();
    const rows = await page.getByRole('table', { name: 'Matches' }).locator('tbody tr td.summary').allTextContents();
    expect(rows).toEqual(['nano /etc/hosts', '/usr/bin/nano']);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText(`${EVENTS.length} events`, { exact: true }).waitFor();
  });

  it('shows a bucket’s time range, counts by kind and top programs on hover and from the keyboard', async () => {
    const page = await openRecording();
    const density = (await (await api(`/sessions/${sessionId}/activity/density?buckets=1`)).json()) as {
      durationMs: number;
    };
    expect(density.durationMs).toBeGreaterThan(9000);
    const spanMs = await page.evaluate(() => (document.querySelector('video')?.duration ?? 0) * 1000);
    const box = await page.locator('.activity-map canvas').boundingBox();
    if (!box) throw new Error('no activity map');
    // Just right of nano's start: the cell drawn for it (nothing else happened within half a second).
    await page.mouse.move(box.x + (2500 / spanMs) * box.width + 1, box.y + box.height / 2);
    const tooltip = page.getByRole('tooltip');
    await eventually(() => tooltip.textContent()).toContain('Program started: 1');
    const text = (await tooltip.textContent()) ?? '';
    expect(text).toMatch(/^0:02\.\d–0:02\.\d/);
    expect(text).toContain('Programs: nano ×1');
    expect(text).not.toContain('Keys');
    await screenshots(page, 'activity-map-tooltip');

    // From the keyboard: focus the map, then move bucket by bucket.
    await page.mouse.move(0, 0);
    await eventually(() => tooltip.count()).toBe(0);
    await page.locator('.map-strip').focus();
    await tooltip.waitFor();
    await page.keyboard.press('End');
    // The last bucket the map draws ends where the video does.
    await eventually(() => tooltip.textContent()).toMatch(new RegExp(`^\\d:\\d\\d\\.\\d–${clock(spanMs, true)}`));
    await page.keyboard.press('Home');
    await eventually(() => tooltip.textContent()).toMatch(/^0:00\.0–/);
    expect(await tooltip.textContent()).toContain('Window: 1');
    expect(await tooltip.textContent()).toContain('Windows: grid-e2e@web-01: ~ (xterm) ×1');
  });

  it('names the window in focus and the programs running at the playhead, as recorded', async () => {
    const page = await openRecording();
    const at = page.getByLabel('At the playhead');
    const read = async () => ({
      window: await at.locator('.at-window').textContent(),
      programs: await at.locator('.at-programs').textContent(),
    });
    await clickMapAt(page, 3000);
    await eventually(read).toEqual({ window: 'grid-e2e@web-01: ~ (xterm)', programs: 'nano' });
    await clickMapAt(page, 5000);
    await eventually(read).toEqual({ window: 'Release notes (firefox)', programs: 'top, nano' });
    await screenshots(page, 'activity-at-playhead');
    await clickMapAt(page, 7000);
    await eventually(read).toEqual({ window: 'Release notes (firefox)', programs: 'top' });
    await eventually(() => at.locator('.at-input').textContent()).toMatch(/^k\d+$/);
  });
});
