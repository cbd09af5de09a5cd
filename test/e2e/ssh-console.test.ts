/**
 * SSH sessions in the console, in Debian's Chromium: a real OpenSSH client logs in through the real SSH proxy
 * (its CLI) to a real sshd, and types. Watch Live shows the terminal and its new output; the recording plays
 * in a terminal with its one-minute segments, activity rows and search moving the player, skips the quiet
 * minute, and exports the `.cast` that holds exactly what the client saw.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clock } from '../../client/src/format.ts';
import { plainLines } from '../../client/src/terminal/cast.ts';
import { parseCast } from '../../protocol/asciicast.ts';
import { waitFor } from '../support/wait-for.ts';
import type { SshClient } from '../unit/ssh/openssh.ts';
import { type ConsoleTab, eventually, launchChromium, openConsole, screenshot, signIn } from './console.ts';
import { adminPassword, api, baseUrl, session } from './helpers.ts';
import { type RunningProxy, startProxy } from './ssh-proxy-cli.ts';

const USER = 'ssh-e2e';
const TARGET = 'db-09.prod';
/** Recorded text is hostile: printed and typed, it must stay text. */
const HOSTILE = '<img src=x onerror="window.__xss=1">';
/**
 * What is typed, in order. The shell computes each marker ($((…))), so the output differs from the echo of
 * what was typed: "MINUTE-ONE-42" appears only once the command ran.
 */
const TYPED = {
  first: "PS1='$ '; echo MINUTE-ONE-$((40+2))",
  colours: "printf '\\033[1;32mgreen\\033[0m \\033[38;2;255;128;0mtruecolour\\033[48;2;0;0;128m ok\\033[0m\\n'",
  hostile: `printf '%s-printed\\n' '${HOSTILE}'`,
  live: 'echo LIVE-$((2+3))-shown',
  // A second passes between entering these two and what they print: a player moved to the moment one was
  // entered shows what came before it, and not yet what it printed.
  load: 'sleep 1; echo MINUTE-TWO-$((6*7))-load',
  cat: 'sleep 1; echo MINUTE-TWO-$((1+1))-cat',
};

let browser: Browser;
let tab: ConsoleTab;
let proxy: RunningProxy;
let client: SshClient;
let sessionId: string;

interface ApiEvent {
  type: string;
  offsetMs: number;
  text: string | null;
}

async function json<T>(pathname: string): Promise<T> {
  const res = await api(pathname);
  if (!res.ok) throw new Error(`GET ${pathname}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** Types a command line into the SSH session and waits until the client shows its output. */
async function run(command: string, output: string): Promise<void> {
  client.type(`${command}\r`);
  await client.waitFor(output);
}

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

/** Where the slider shows `ms`: on its 100 ms steps, at most the last step within the log. */
function onSlider(ms: number, durationMs: number): number {
  return Math.min(Math.round(ms / 100) * 100, Math.floor(durationMs / 100) * 100);
}

/** The activity grid's row of the command `text` (not the row of the keys typed for it). */
function commandRow(page: Page, text: string) {
  return page.getByRole('row').filter({ hasText: 'Command' }).filter({ hasText: text });
}

/** The session's command (`ssh.command`) that was `text`, as the activity API lists it. */
async function command(text: string): Promise<ApiEvent> {
  const { events } = await json<{ events: ApiEvent[] }>(`/sessions/${sessionId}/activity?type=ssh.command`);
  const found = events.find((e) => e.text === text);
  if (!found) throw new Error(`no command ${text} in ${JSON.stringify(events)}`);
  return found;
}

beforeAll(async () => {
  proxy = await startProxy(USER, TARGET);
  browser = await launchChromium();
  tab = await openConsole(browser);
  await signIn(tab.page, 'admin', adminPassword);

  client = proxy.login(['-tt']);
  await run(TYPED.first, 'MINUTE-ONE-42');
  await run(TYPED.colours, '\x1b[38;2;255;128;0mtruecolour');
  await run(TYPED.hostile, `${HOSTILE}-printed`);
  sessionId = await waitFor('the proxy to launch the session', async () => {
    const { sessions } = await json<{ sessions: Array<{ id: string }> }>(`/sessions?target=${TARGET}`);
    return sessions[0]?.id;
  });
});

afterAll(async () => {
  client?.child.kill();
  // Every page ran without CSP violations (xterm.js's styles included), script errors or dialogs.
  expect(tab?.problems).toEqual([]);
  expect(tab?.dialogs).toEqual([]);
  expect(await tab?.page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
  await browser?.close();
  await proxy?.stop();
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
    await shows(page, ['MINUTE-ONE-42', 'green truecolour ok', `${HOSTILE}-printed`]);
    expect(await page.locator('.viewers').textContent()).toContain('admin');

    // Typed while we watch: it reaches the page.
    await run(TYPED.live, 'LIVE-5-shown');
    await eventually(() => terminalText(page)).toContain('LIVE-5-shown');
    await screenshot(page, 'ssh-watch-live');

    await page.getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog', { name: `${USER} on ${TARGET}` });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Nothing happens until the session is past its first minute (its clock, as the server keeps it): the
    // recording gets a second minute and a quiet stretch to skip.
    await waitFor(
      'the session to run past its first minute',
      async () => ((await json<{ durationMs: number | null }>(`/sessions/${sessionId}`)).durationMs ?? 0) > 64_000,
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    await run(TYPED.load, 'MINUTE-TWO-42-load');
    await run(TYPED.cat, 'MINUTE-TWO-2-cat');
    await eventually(() => terminalText(page)).toContain('MINUTE-TWO-2-cat');

    // The user logs out: the page says the session ended and links to its recording.
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    await eventually(() => page.locator('.session-ended').textContent()).toContain('The session ended');
    await page.getByRole('link', { name: 'Watch the recording' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'ssh-watch-live-ended');
  });

  it('plays the recording in a terminal: minutes, activity rows and search move it; skip inactivity', async () => {
    const { page } = tab;
    const view = await waitFor('the cast to be sealed', async () => {
      const s = await session(sessionId);
      return s.recording.status === 'ready' && s;
    });
    expect(view).toMatchObject({ status: 'ended', endReason: 'ended_by_user' });
    expect(view.recording.url).toBe(`/api/v1/sessions/${sessionId}/recording.cast`);

    await page.goto(`${baseUrl}/#/sessions`);
    await page.getByRole('button', { name: 'Ended' }).click();
    const row = page.getByRole('row', { name: new RegExp(USER) });
    await row.getByRole('link', { name: 'Watch recording' }).click();
    await page.getByRole('heading', { name: `Terminal recording: ${USER} on ${TARGET}` }).waitFor();
    // The log's length, as the player has it: past the first minute, short of a second.
    const timeline = page.getByRole('slider', { name: 'Timeline' });
    const durationMs = await waitFor('the player to load the log', async () =>
      Number(await timeline.getAttribute('max')),
    );
    expect(durationMs).toBeGreaterThan(60_000);
    expect(durationMs).toBeLessThan(120_000);

    // Over a minute of session clock: two one-minute segments, each with the first line printed in it (the
    // shell's first prompt, then the echo of the first command typed in minute 2).
    const cast = parseCast(await (await api(`/sessions/${sessionId}/recording.cast`)).text());
    const firstPrinted = cast.events.find(([, code, data]) => code === 'o' && plainLines(data).length > 0);
    const minutes = page.getByRole('navigation', { name: 'The log by minute' }).getByRole('button');
    await eventually(() => minutes.count()).toBe(2);
    expect(await minutes.nth(0).textContent()).toContain(plainLines(firstPrinted?.[2] ?? '')[0]);
    expect(await minutes.nth(1).textContent()).toContain(`1:00–${clock(durationMs)}`);
    expect(await minutes.nth(1).textContent()).toContain(TYPED.load);
    // The player opens at the start, showing the first output (its first frame) before Play: the echo of the
    // first command typed, not yet what it printed.
    await page.locator('.terminal-screen .xterm-rows').waitFor();
    expect(await playerMs(page)).toBe(0);
    await eventually(() => terminalText(page)).toContain(plainLines(firstPrinted?.[2] ?? '')[0]);
    expect(await terminalText(page)).not.toContain('MINUTE-ONE-42');
    await screenshot(page, 'ssh-recording');

    // Forward to minute 2, then back to minute 1 and forward again: the terminal is replayed up to 1:00.
    await page.getByRole('button', { name: /^Minute 2/ }).click();
    await eventually(() => playerMs(page)).toBe(60_000);
    await page.getByRole('button', { name: /^Minute 1/ }).click();
    await eventually(() => playerMs(page)).toBe(0);
    await page.getByRole('button', { name: /^Minute 2/ }).click();
    await eventually(() => playerMs(page)).toBe(60_000);
    // Seeking replays the log into a reset terminal: what came before 1:00 shows, what came after does not.
    await shows(page, ['MINUTE-ONE-42', `${HOSTILE}-printed`, 'LIVE-5-shown'], ['MINUTE-TWO-42']);
    expect(await page.locator('.player-controls .time').textContent()).toContain(`1:00 / ${clock(durationMs)}`);
    await screenshot(page, 'ssh-recording-minute-2');

    // An activity row (a command) moves the terminal to when it was entered: what it printed is not there yet.
    const cat = await command(TYPED.cat);
    await commandRow(page, TYPED.cat).click();
    await eventually(() => playerMs(page)).toBe(onSlider(cat.offsetMs, durationMs));
    await page.getByRole('region', { name: `Command at ${clock(cat.offsetMs, true)}` }).waitFor();
    await shows(page, ['MINUTE-TWO-42-load'], ['MINUTE-TWO-2-cat']);
    await screenshot(page, 'ssh-recording-activity-row');

    // Search within the session marks its matches on the activity map (the command and the keys typed for
    // it); the command's mark moves the player to it.
    const { events: found } = await json<{ events: ApiEvent[] }>(`/sessions/${sessionId}/activity?q=load`);
    expect(found.map((e) => e.type).sort()).toEqual(['ssh.command', 'ssh.input']);
    await page.getByLabel('Search within the session').fill('load');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('status').filter({ hasText: '2 matches for “load”' }).waitFor();
    const marks = page.getByRole('list', { name: 'Search matches on the activity map' }).getByRole('button');
    expect(await marks.count()).toBe(2);
    const load = await command(TYPED.load);
    await marks.and(page.getByLabel(`Match at ${clock(load.offsetMs, true)}: Command`)).click();
    await eventually(() => playerMs(page)).toBe(onSlider(load.offsetMs, durationMs));
    await shows(page, ['LIVE-5-shown'], ['MINUTE-TWO-42-load']);
    await screenshot(page, 'ssh-recording-search');
    await page.getByRole('button', { name: 'Clear' }).click();

    // Play from the command typed while watching live, skipping inactivity: the silent minute is jumped over,
    // and the player stops at the end of the log.
    const live = await command(TYPED.live);
    await commandRow(page, TYPED.live).click();
    await eventually(() => playerMs(page)).toBe(onSlider(live.offsetMs, durationMs));
    await page.getByLabel('Skip inactivity').check();
    await page.getByLabel('Speed').selectOption('2');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await eventually(() => terminalText(page)).toContain('LIVE-5-shown');
    await page.getByRole('status').filter({ hasText: 'without activity' }).waitFor({ timeout: 30_000 });
    await eventually(() => terminalText(page)).toContain('MINUTE-TWO-2-cat');
    await eventually(() => playerMs(page)).toBe(onSlider(durationMs, durationMs));
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    await screenshot(page, 'ssh-recording-played');
  });

  it('exports the recording as a .cast that holds what the client saw and what was typed', async () => {
    const { page } = tab;
    const href = await page.getByRole('link', { name: 'Export as .cast' }).getAttribute('href');
    expect(href).toBe(`/api/v1/sessions/${sessionId}/recording.cast?download=1`);
    const res = await page.request.get(`${baseUrl}${href}`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-disposition']).toContain('attachment');
    const cast = parseCast(await res.text());
    expect(cast.header).toMatchObject({ version: 2, width: 80, height: 24 });
    const data = (code: string) =>
      cast.events
        .filter(([, c]) => c === code)
        .map(([, , d]) => d)
        .join('');
    expect(data('o')).toBe(client.stdout());
    expect(data('i')).toBe(`${Object.values(TYPED).join('\r')}\rexit\r`);
  });
});
