/**
 * A restart of the server under a live viewer, in Debian's Chromium: `npm start` gets Ctrl-C (SIGINT), tells
 * the viewers first (close 1012), and stops; the console says the server is restarting and keeps retrying;
 * once `npm start` runs again on the same port and state, it says it is back and the live terminal goes on.
 * The test runs a server of its own (scripts/start.ts, as global-setup does) so that it may stop it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, launchChromium, screenshot, signIn } from './console.ts';
import { adminPassword, apiKey } from './helpers.ts';
import { freePort, type LocalServer, startLocalServer } from './local-server.ts';
import { SshFeed } from './ssh-feed.ts';

const USER = 'restart-e2e';
const TARGET = 'db-restart';

let browser: Browser;
let port: number;
let state: string;
let server: LocalServer | null = null;
let serverOutput = '';
const problems: string[] = [];

const base = () => `http://127.0.0.1:${port}`;
const up = () =>
  fetch(`${base()}/api/health`).then(
    (r) => r.ok,
    () => false,
  );

/** `npm start` on this test's port and state; the console was built by global-setup's run. */
async function startServer(): Promise<void> {
  server = await startLocalServer({
    port,
    state,
    env: { WITNESS_API_KEY: apiKey, WITNESS_ADMIN_PASSWORD: adminPassword },
  });
}

/** Ctrl-C, as in the terminal `npm start` runs in (to the script alone); resolves when it has exited. */
async function interruptServer(): Promise<void> {
  const stopping = server;
  if (!stopping) return;
  await stopping.stop({ keepState: true, signal: 'SIGINT', group: false });
  serverOutput += stopping.output();
  server = null;
}

/** What the terminal on the page shows, as text (xterm's DOM renderer). */
function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const rows = document.querySelector('.terminal-screen .xterm-rows');
    return rows ? Array.from(rows.children, (row) => row.textContent ?? '').join('\n') : '';
  });
}

beforeAll(async () => {
  port = await freePort();
  state = mkdtempSync(path.join(tmpdir(), 'witness-e2e-restart-'));
  await startServer();
  browser = await launchChromium();
});

afterAll(async () => {
  await interruptServer();
  await browser?.close();
  rmSync(state, { recursive: true, force: true });
  expect(problems).toEqual([]);
});

describe('a server restart under a live viewer', () => {
  it('says the server is restarting, reconnects when it is back, and the live terminal goes on', async () => {
    const feed = await SshFeed.launch(USER, TARGET, base());
    await feed.connect();
    await feed.header({ version: 2, width: 80, height: 24, title: `${USER}@${TARGET}` });
    await feed.events([[0.5, 'o', 'BEFORE-RESTART\r\n']]);

    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(base());
    await signIn(page, 'admin', adminPassword);
    const row = page.getByRole('row', { name: new RegExp(USER) });
    await row.getByRole('link', { name: 'Watch live' }).click();
    await page.getByRole('img', { name: 'Live' }).waitFor();
    await eventually(() => terminalText(page)).toContain('BEFORE-RESTART');

    // Ctrl-C: the viewers hear 1012 before the server goes; the page says so while the server is down.
    await interruptServer();
    expect(serverOutput).toContain('told 1 live viewer(s) that the server is restarting');
    const restarting = page.getByRole('status').filter({ hasText: 'The server is restarting — reconnecting' });
    await restarting.waitFor({ timeout: 15_000 });
    expect(await up()).toBe(false);
    // Retries against the stopped server fail; the page still says why the connection went.
    await eventually(() => restarting.textContent()).toMatch(/attempt [2-9]/);
    await screenshot(page, 'watch-live-server-restarting');

    await startServer();
    await page.getByRole('status').filter({ hasText: 'Reconnected' }).waitFor({ timeout: 60_000 });
    await page.getByRole('img', { name: 'Live' }).waitFor();
    expect(await restarting.count()).toBe(0);
    await screenshot(page, 'watch-live-server-back');

    // The session went on: the proxy reconnects, its new output reaches the page.
    await feed.connect();
    await feed.events([[3.5, 'o', 'AFTER-RESTART\r\n']]);
    await eventually(() => terminalText(page)).toContain('AFTER-RESTART');
    expect(await terminalText(page)).toContain('BEFORE-RESTART');
    await context.close();
  });
});
