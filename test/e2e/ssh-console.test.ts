/**
 * SSH sessions in the console, in Debian's Chromium: a session launched with protocol ssh and fed through the
 * real ingest endpoints as the SSH proxy feeds it (test/e2e/ssh-feed.ts). Watch Live shows the terminal and
 * its new output; the recording plays in a terminal with its one-minute segments, activity rows and search
 * moving the player, and exports a `.cast` asciinema plays.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCast } from '../../protocol/asciicast.ts';
import { type ConsoleTab, eventually, launchChromium, openConsole, screenshot, signInPatiently } from './console.ts';
import { adminPassword, baseUrl, session, waitUntil } from './helpers.ts';
import { SshFeed } from './ssh-feed.ts';

const USER = 'ssh-e2e';
const TARGET = 'db-09.prod';
const PROMPT = `${USER}@db-09:~$ `;
/** Recorded text is hostile: printed and typed, it must stay text. */
const HOSTILE = '<img src=x onerror="window.__xss=1">';

let browser: Browser;
let tab: ConsoleTab;
let feed: SshFeed;

/** What the terminal on the page shows: its rendered rows (xterm's DOM renderer), as text. */
function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const rows = document.querySelector('.terminal-screen .xterm-rows');
    if (!rows) throw new Error('no terminal on the page');
    return Array.from(rows.children, (row) => (row.textContent ?? '').replaceAll('\u00a0', ' ')).join('\n');
  });
}

/**
 * Waits until the terminal shows every one of `has` and none of `not` (a replay clears the screen first, so
 * a single read can land in between).
 */
async function shows(page: Page, has: string[], not: string[] = []): Promise<void> {
  const matches = (text: string) => has.every((s) => text.includes(s)) && !not.some((s) => text.includes(s));
  await eventually(() => terminalText(page).then(matches)).toBe(true);
}

/** The player's position, ms, from the timeline slider. */
async function playerMs(page: Page): Promise<number> {
  return Number(await page.getByRole('slider', { name: 'Timeline' }).inputValue());
}

beforeAll(async () => {
  browser = await launchChromium();
  tab = await openConsole(browser);
  await signInPatiently(tab.page, 'admin', adminPassword);
  feed = await SshFeed.launch(USER, TARGET);
  const welcome = await feed.connect();
  expect(welcome).toMatchObject({ type: 'welcome', session: { protocol: 'ssh', format: 'asciicast' } });
  await feed.header({ version: 2, width: 100, height: 30, title: `${USER}@${TARGET}` });
  // Minute 1: a prompt, a command and its output.
  await feed.events([
    [0.4, 'o', PROMPT],
    [2.1, 'i', 'hostname\r'],
    [2.2, 'o', 'hostname\r\nMINUTE-ONE-db-09\r\n'],
    [2.3, 'o', `\x1b[1;32m${PROMPT}\x1b[0m\x1b[38;2;255;128;0mtruecolour\x1b[48;2;0;0;128m ok\x1b[0m `],
    [9.5, 'o', `echo '${HOSTILE}'\r\n${HOSTILE}\r\n${PROMPT}`],
  ]);
});

afterAll(async () => {
  feed?.close();
  // Every page ran without CSP violations (xterm.js's styles included), script errors or dialogs.
  expect(tab?.problems).toEqual([]);
  expect(tab?.dialogs).toEqual([]);
  expect(await tab?.page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
  await browser?.close();
});

describe('an SSH session in the console', () => {
  it('lists it as ssh and shows its terminal live, new output included; Terminate opens the dialog', async () => {
    const { page } = tab;
    const row = page.getByRole('row', { name: new RegExp(USER) });
    await row.waitFor();
    expect(await row.getByRole('cell', { name: 'ssh', exact: true }).count()).toBe(1);
    await row.getByRole('link', { name: 'Watch live' }).click();
    await page.getByRole('heading', { name: `Live terminal: ${USER} on ${TARGET}` }).waitFor();
    await page.getByRole('img', { name: 'Live' }).waitFor();
    await shows(page, ['MINUTE-ONE-db-09', HOSTILE]);
    expect(await page.locator('.viewers').textContent()).toContain('admin');

    // Minute 2 arrives while we watch.
    await feed.events([
      [61.0, 'i', 'uptime\r'],
      [61.1, 'o', 'uptime\r\n 10:00:01 up 12 days, MINUTE-TWO-load\r\n'],
      [61.2, 'o', PROMPT],
    ]);
    await eventually(() => terminalText(page)).toContain('MINUTE-TWO-load');
    await screenshot(page, 'ssh-watch-live');

    await page.getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog', { name: `${USER} on ${TARGET}` });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Minute 3, activity, and the end: the page says the session ended and links to its recording.
    await feed.events([
      [75.0, 'i', 'cat /etc/hostname\r'],
      [75.1, 'o', 'cat /etc/hostname\r\nMINUTE-TWO-cat\r\n'],
      [75.2, 'o', PROMPT],
      [140.0, 'i', 'exit\r'],
      [140.1, 'o', 'exit\r\nMINUTE-THREE-logout\r\n'],
      [150.0, 'o', ''],
    ]);
    await feed.activity([
      { type: 'ssh.command', atMs: 2100, text: 'hostname' },
      { type: 'ssh.input', atMs: 2000, endMs: 2100, text: 'hostname\r' },
      { type: 'ssh.command', atMs: 61_000, text: 'uptime' },
      { type: 'ssh.command', atMs: 75_000, text: 'cat /etc/hostname' },
      {
        type: 'file.transfer',
        atMs: 100_000,
        endMs: 101_000,
        direction: 'download',
        path: '/var/log/syslog',
        size: 4096,
        protocol: 'sftp',
      },
      { type: 'ssh.command', atMs: 140_000, text: 'exit' },
    ]);
    await eventually(() => terminalText(page)).toContain('MINUTE-THREE-logout');
    expect(await feed.end()).toBe(4000);
    await eventually(() => page.locator('.session-ended').textContent()).toContain('The session ended');
    await page.getByRole('link', { name: 'Watch the recording' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'ssh-watch-live-ended');
  });

  it('plays the recording in a terminal: minutes, activity rows and search move it; skip inactivity', async () => {
    const { page } = tab;
    const view = await waitUntil('the cast to be sealed', async () => {
      const s = await session(feed.sessionId);
      return s.recording.status === 'ready' && s;
    });
    expect(view.recording.url).toBe(`/api/v1/sessions/${feed.sessionId}/recording.cast`);

    await page.goto(`${baseUrl}/#/sessions`);
    await page.getByRole('button', { name: 'Ended' }).click();
    const row = page.getByRole('row', { name: new RegExp(USER) });
    await row.getByRole('link', { name: 'Watch recording' }).click();
    await page.getByRole('heading', { name: `Terminal recording: ${USER} on ${TARGET}` }).waitFor();

    // 2 min 30 s of session clock: three one-minute segments.
    const minutes = page.getByRole('navigation', { name: 'The log by minute' }).getByRole('button');
    await eventually(() => minutes.count()).toBe(3);
    // Each with the first line printed in it.
    expect(await minutes.nth(0).textContent()).toContain(PROMPT.trim());
    expect(await minutes.nth(1).textContent()).toContain('uptime');
    expect(await minutes.nth(2).textContent()).toContain('2:00–2:30');
    // The player opens at the start, before anything was printed.
    await page.locator('.terminal-screen .xterm-rows').waitFor();
    expect(await playerMs(page)).toBe(0);
    expect(await terminalText(page)).not.toContain('db-09');
    await screenshot(page, 'ssh-recording');

    // Forward to the end of the log, then back to minute 2: the terminal is replayed up to 1:00.
    await page.getByRole('button', { name: /^Minute 3/ }).click();
    await eventually(() => playerMs(page)).toBe(120_000);
    await page.getByRole('button', { name: /^Minute 2/ }).click();
    await eventually(() => playerMs(page)).toBe(60_000);
    // Seeking back replays the log into a reset terminal: the later output goes, the earlier stays.
    await shows(page, ['MINUTE-ONE-db-09', HOSTILE], ['MINUTE-TWO']);
    expect(await page.locator('.player-controls .time').textContent()).toContain('1:00 / 2:30');
    await screenshot(page, 'ssh-recording-minute-2');

    // An activity row (a command) moves the terminal to it: printed by 1:15.1, not later.
    await page.getByRole('row', { name: /cat \/etc\/hostname/ }).click();
    await eventually(() => playerMs(page)).toBe(75_000);
    await page.getByRole('region', { name: 'Command at 1:15.0' }).waitFor();
    await shows(page, ['MINUTE-TWO-load'], ['MINUTE-TWO-cat']);
    await screenshot(page, 'ssh-recording-activity-row');

    // Search within the session marks its match on the activity map; the mark moves the player.
    await page.getByLabel('Search within the session').fill('uptime');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('status').filter({ hasText: '1 match for “uptime”' }).waitFor();
    const mark = page.getByRole('list', { name: 'Search matches on the activity map' }).getByRole('button');
    expect(await mark.count()).toBe(1);
    await mark.click();
    await eventually(() => playerMs(page)).toBe(61_000);
    // The command was sent at 1:01.0; its output came a tenth of a second later.
    await shows(page, ['MINUTE-ONE-db-09'], ['MINUTE-TWO-load']);
    await screenshot(page, 'ssh-recording-search');
    await page.getByRole('button', { name: 'Clear' }).click();

    // Play with skip inactivity: the minute of silence before the logout is jumped over.
    await page.getByRole('button', { name: /^Minute 2/ }).click();
    await eventually(() => playerMs(page)).toBe(60_000);
    await page.getByLabel('Skip inactivity').check();
    await page.getByLabel('Speed').selectOption('2');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await eventually(() => terminalText(page)).toContain('MINUTE-TWO-cat');
    await page.getByRole('status').filter({ hasText: 'without activity' }).waitFor({ timeout: 30_000 });
    await eventually(() => terminalText(page)).toContain('MINUTE-THREE-logout');
    // The quiet end is skipped too: the player stops at the end of the log.
    await eventually(() => playerMs(page)).toBe(150_000);
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    await screenshot(page, 'ssh-recording-played');
  });

  it('exports the recording as a .cast that parses as asciicast v2', async () => {
    const { page } = tab;
    const href = await page.getByRole('link', { name: 'Export as .cast' }).getAttribute('href');
    expect(href).toBe(`/api/v1/sessions/${feed.sessionId}/recording.cast?download=1`);
    const res = await page.request.get(`${baseUrl}${href}`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-disposition']).toContain('attachment');
    const cast = parseCast(await res.text());
    expect(cast.header).toMatchObject({ version: 2, width: 100, height: 30 });
    expect(cast.events.length).toBe(14);
    expect(cast.events.at(-2)).toEqual([140.1, 'o', 'exit\r\nMINUTE-THREE-logout\r\n']);
  });
});
