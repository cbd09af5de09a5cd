/**
 * The Watch page in Debian's Chromium, for the four players (live and recorded, desktop and terminal), at
 * 1280×800 and 1920×1080: full width, a terminal of 200 columns never cut off (fit, or 1:1 and scroll), the
 * first frame before Play (a terminal's first output, a video's first picture), fullscreen on the player
 * frame, zoom and pan on the desktop video, and the activity map's lanes named for what the session has.
 * Real sessions: the real SSH proxy in front of a real sshd with the real OpenSSH client (in a 200×50
 * terminal made by util-linux `script`), and the real launcher recording ffmpeg's test pattern.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainLines } from '../../client/src/terminal/cast.ts';
import { parseCast } from '../../protocol/asciicast.ts';
import { waitFor } from '../support/wait-for.ts';
import type { SshClient } from '../unit/ssh/openssh.ts';
import { type ConsoleTab, eventually, launchChromium, openConsole, screenshot, signIn, videoState } from './console.ts';
import { adminPassword, api, baseUrl, runLauncher, session } from './helpers.ts';
import { type RunningProxy, startProxy } from './ssh-proxy-cli.ts';

const USER = 'watch-e2e';
const TARGET = 'wide-01.prod';
const COLS = 200;
const ROWS = 50;
/** A line exactly COLS wide whose last column is `Z`: printed by the shell, not echoed (it computes it). */
const EDGE_COMMAND = `printf 'EDGE%0${COLS - 5}dZ\\n' 0`;
const EDGE_LINE = `EDGE${'0'.repeat(COLS - 5)}Z`;

let browser: Browser;
let tab: ConsoleTab;
let proxy: RunningProxy;
let client: SshClient;

const SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
] as const;

/** What the terminal on the page shows: its rendered rows, as text. */
function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const rows = document.querySelector('.terminal-screen .xterm-rows');
    if (!rows) throw new Error('no terminal on the page');
    return Array.from(rows.children, (row) => (row.textContent ?? '').replaceAll('\u00a0', ' ')).join('\n');
  });
}

interface LastColumn {
  char: string;
  /** Characters up to the last printed one in the row. */
  length: number;
  left: number;
  right: number;
  paneLeft: number;
  paneRight: number;
  windowWidth: number;
}

/** Where the last printed character of the terminal row holding `marker` is, against the terminal's pane. */
function lastColumn(page: Page, marker: string): Promise<LastColumn | null> {
  return page.evaluate((marker) => {
    const pane = document.querySelector('.terminal-screen');
    const row = Array.from(pane?.querySelector('.xterm-rows')?.children ?? []).find((r) =>
      (r.textContent ?? '').includes(marker),
    );
    if (!pane || !row) return null;
    let last: { node: Text; index: number } | null = null;
    const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
      const text = node.data;
      for (let i = text.length - 1; i >= 0; i--) {
        if ((text[i] as string).trim() !== '') {
          last = { node, index: i };
          break;
        }
      }
    }
    if (!last) return null;
    const range = document.createRange();
    range.setStart(last.node, last.index);
    range.setEnd(last.node, last.index + 1);
    const char = range.getBoundingClientRect();
    const box = pane.getBoundingClientRect();
    return {
      char: last.node.data[last.index] as string,
      length: (row.textContent ?? '').replaceAll('\u00a0', ' ').trimEnd().length,
      left: char.left,
      right: char.right,
      paneLeft: box.left,
      paneRight: box.right,
      windowWidth: innerWidth,
    };
  }, marker);
}

/** The edge line's last column is `Z`, inside the terminal's pane and the window. */
async function expectLastColumnInView(page: Page): Promise<void> {
  const found = await lastColumn(page, 'EDGE0000');
  expect(found).not.toBeNull();
  const at = found as LastColumn;
  expect(at.char).toBe('Z');
  expect(at.length).toBe(COLS);
  expect(at.left).toBeGreaterThanOrEqual(at.paneLeft);
  expect(at.right).toBeLessThanOrEqual(at.paneRight);
  expect(at.right).toBeLessThanOrEqual(at.windowWidth);
}

function lanes(page: Page): Promise<string[]> {
  return page.locator('.map-lanes li').allTextContents();
}

/** The scale and translation of the video's CSS transform (none: 1, 0, 0). */
function videoTransform(page: Page): Promise<{ scale: number; x: number; y: number }> {
  return page.evaluate(() => {
    const video = document.querySelector('video');
    if (!video) throw new Error('no video on the page');
    const matrix = new DOMMatrixReadOnly(
      getComputedStyle(video).transform === 'none' ? '' : getComputedStyle(video).transform,
    );
    return { scale: matrix.a, x: matrix.e, y: matrix.f };
  });
}

function fullscreenIsFrame(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const frame = document.querySelector('.player-frame');
    return frame !== null && document.fullscreenElement === frame;
  });
}

async function shootBoth(page: Page, name: string, check?: () => Promise<void>): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    if (check)
      await eventually(() =>
        check().then(
          () => true,
          () => false,
        ),
      ).toBe(true);
    await screenshot(page, `${name}-${size.width}`);
  }
  await page.setViewportSize(SIZES[0]);
}

beforeAll(async () => {
  proxy = await startProxy(USER, TARGET);
  browser = await launchChromium();
  tab = await openConsole(browser);
  await tab.page.setViewportSize(SIZES[0]);
  await signIn(tab.page, 'admin', adminPassword);
});

afterAll(async () => {
  client?.child.kill();
  // Every page ran without CSP violations, script errors or dialogs.
  expect(tab?.problems).toEqual([]);
  expect(tab?.dialogs).toEqual([]);
  await browser?.close();
  await proxy?.stop();
});

describe('the Watch page', () => {
  it('shows a 200-column terminal whole, live and recorded, with its first output before Play', async () => {
    const { page } = tab;
    client = proxy.loginInTerminal(COLS, ROWS);
    client.type("PS1='$ '; echo READY-$((6*7))\r");
    await client.waitFor('READY-42');
    const sessionId = await waitFor('the proxy to launch the session', async () => {
      const res = await api(`/sessions?target=${TARGET}`);
      const { sessions } = (await res.json()) as { sessions: Array<{ id: string }> };
      return sessions[0]?.id;
    });
    client.type(`${EDGE_COMMAND}\r`);
    await client.waitFor(EDGE_LINE);

    // Live: every column in view at 1280 and at 1920 (the font is fitted to the pane).
    await page.goto(`${baseUrl}/#/sessions/${sessionId}/live`);
    await page.getByRole('heading', { name: `Live terminal: ${USER} on ${TARGET}` }).waitFor();
    await eventually(() => terminalText(page)).toContain(EDGE_LINE);
    await expectLastColumnInView(page);
    await shootBoth(page, 'watch-terminal-live', () => expectLastColumnInView(page));

    client.type('exit\r');
    await client.exited;
    await waitFor('the cast to be sealed', async () => (await session(sessionId)).recording.status === 'ready');
    const cast = parseCast(await (await api(`/sessions/${sessionId}/recording.cast`)).text());
    expect(cast.header).toMatchObject({ width: COLS, height: ROWS });

    // Recorded: before Play, the terminal shows its first output, the playhead still at 0.
    await page.goto(`${baseUrl}/#/sessions/${sessionId}/recording`);
    await page.getByRole('heading', { name: `Terminal recording: ${USER} on ${TARGET}` }).waitFor();
    const firstPrinted = cast.events.find(([, code, data]) => code === 'o' && plainLines(data).length > 0);
    const firstLine = plainLines(firstPrinted?.[2] ?? '')[0] as string;
    expect(firstLine).toBeTruthy();
    await eventually(() => terminalText(page)).toContain(firstLine);
    const timeline = page.getByRole('slider', { name: 'Timeline' });
    expect(Number(await timeline.inputValue())).toBe(0);
    expect(await page.getByRole('button', { name: 'Play', exact: true }).count()).toBe(1);

    // The lanes say what a terminal has.
    await eventually(() => lanes(page)).toEqual(['Input', 'Output', 'Commands']);

    // At the end of the log the edge line is on the screen, whole.
    await timeline.fill((await timeline.getAttribute('max')) ?? '0');
    await eventually(() => terminalText(page)).toContain(EDGE_LINE);
    await expectLastColumnInView(page);
    await shootBoth(page, 'watch-terminal-recorded', () => expectLastColumnInView(page));

    // 1:1: the base font, wider than the pane, which scrolls to the last column; Fit brings it back.
    const sizeGroup = page.getByRole('group', { name: 'Terminal size' });
    await sizeGroup.getByRole('button', { name: '1:1' }).click();
    const pane = page.locator('.terminal-screen');
    await eventually(() => pane.evaluate((p) => p.scrollWidth > p.clientWidth)).toBe(true);
    const cut = (await lastColumn(page, 'EDGE0000')) as LastColumn;
    expect(cut.right).toBeGreaterThan(cut.paneRight);
    await pane.evaluate((p) => {
      p.scrollLeft = p.scrollWidth;
    });
    await eventually(() =>
      lastColumn(page, 'EDGE0000').then((c) => c !== null && c.right <= c.paneRight && c.left >= c.paneLeft),
    ).toBe(true);
    await screenshot(page, 'watch-terminal-recorded-1to1-1280');
    await sizeGroup.getByRole('button', { name: 'Fit' }).click();
    await eventually(() => pane.evaluate((p) => p.scrollWidth <= p.clientWidth)).toBe(true);
    await expectLastColumnInView(page);
  });

  it('plays a desktop session live and recorded: full width, first frame, zoom and pan, fullscreen', async () => {
    const { page } = tab;
    const run = runLauncher(['--user', USER, '--target', 'desk-01', '--source', 'testsrc', '--seconds', '25']);
    const sessionId = await run.sessionId;
    await waitFor('pieces to be stored', async () => (await session(sessionId)).recording.pieces >= 2);

    // Live: the picture moves, in a frame as wide as the window allows.
    await page.goto(`${baseUrl}/#/sessions/${sessionId}/live`);
    await page.getByRole('heading', { name: `Live: ${USER} on desk-01` }).waitFor();
    await page.getByRole('img', { name: 'Live' }).waitFor();
    await eventually(() => videoState(page).then((v) => v.readyState >= 2 && v.currentTime > 0)).toBe(true);
    await shootBoth(page, 'watch-desktop-live', async () => {
      const width = await page.locator('video').evaluate((v) => v.getBoundingClientRect().width);
      const window = page.viewportSize()?.width ?? 0;
      // No layout cap: the video spans the window but for the page's margins.
      expect(width).toBeGreaterThan(window - 64);
    });

    expect((await run.exit).code).toBe(0);
    await waitFor('the recording to be sealed', async () => (await session(sessionId)).recording.status === 'ready');

    // Recorded: before Play the first picture is there (the test pattern is not black).
    await page.goto(`${baseUrl}/#/sessions/${sessionId}/recording`);
    await page.getByRole('heading', { name: `Recording: ${USER} on desk-01` }).waitFor();
    await eventually(() => videoState(page).then((v) => v.readyState >= 2 && v.paused)).toBe(true);
    const brightness = await page.locator('video').evaluate((video: HTMLVideoElement) => {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 36;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      let sum = 0;
      for (let i = 0; i < data.length; i += 4)
        sum += (data[i] as number) + (data[i + 1] as number) + (data[i + 2] as number);
      return sum / (data.length / 4) / 3;
    });
    expect(brightness).toBeGreaterThan(20);
    await eventually(() => lanes(page)).toEqual(['Screen', 'Keys', 'Processes', 'Windows']);
    await shootBoth(page, 'watch-desktop-recorded', async () => {
      const width = await page.locator('video').evaluate((v) => v.getBoundingClientRect().width);
      // Beside the activity panel, the video takes the rest of the window.
      expect(width).toBeGreaterThan((page.viewportSize()?.width ?? 0) * 0.6);
    });

    // Zoom: a button, the keyboard and the wheel zoom in; a drag pans (and is not a click on the video).
    const video = page.locator('video');
    await page.getByRole('button', { name: 'Zoom in' }).click();
    await eventually(() => videoTransform(page).then((t) => t.scale)).toBeGreaterThan(1);
    await page.keyboard.press('z');
    const keyed = await videoTransform(page);
    expect(keyed.scale).toBeGreaterThan(1.5);
    const box = (await video.boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -200);
    await eventually(() => videoTransform(page).then((t) => t.scale)).toBeGreaterThan(keyed.scale);
    const beforePan = await videoTransform(page);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 5 });
    await page.mouse.up();
    const panned = await videoTransform(page);
    expect(panned.scale).toBeCloseTo(beforePan.scale, 3);
    expect(panned.x).not.toBeCloseTo(beforePan.x, 0);
    expect(panned.y).not.toBeCloseTo(beforePan.y, 0);
    expect((await videoState(page)).paused).toBe(true);
    await screenshot(page, 'watch-desktop-zoomed-1280');
    await page.getByRole('button', { name: 'Reset zoom' }).click();
    await eventually(() => videoTransform(page)).toEqual({ scale: 1, x: 0, y: 0 });

    // Fullscreen: the player frame (video, what is at the playhead, controls); `f` leaves it.
    await page.getByRole('button', { name: 'Fullscreen' }).click();
    await eventually(() => fullscreenIsFrame(page)).toBe(true);
    await page.getByRole('slider', { name: 'Timeline' }).waitFor();
    await screenshot(page, 'watch-desktop-fullscreen-1280');
    await page.keyboard.press('f');
    await eventually(() => page.evaluate(() => document.fullscreenElement === null)).toBe(true);
    await page.keyboard.press('f');
    await eventually(() => fullscreenIsFrame(page)).toBe(true);
    await page.getByRole('button', { name: 'Exit fullscreen' }).click();
    await eventually(() => page.evaluate(() => document.fullscreenElement === null)).toBe(true);
  });
});
