/**
 * The console in Firefox: Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core (Playwright
 * drives only its own patched Firefox builds). A real launcher's session is watched live through
 * MediaSource — the picture must move — and, once sealed, its recording plays and seeks.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, baseUrl, root, runLauncher, session } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';

const FIREFOX = '/usr/bin/firefox-esr';
const results = path.join(root, 'test-results');

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing: install Debian's firefox-esr (.ci/run does)`);
  mkdirSync(results, { recursive: true });
  browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
});

afterAll(async () => {
  await browser?.close();
});

/** The first `<video>`'s state. */
function video(page: Page) {
  return page.evaluate(() => {
    const v = document.querySelector('video');
    return v
      ? { currentTime: v.currentTime, paused: v.paused, readyState: v.readyState, error: v.error?.code ?? null }
      : null;
  });
}

/** Waits until `read` gives a value `done` accepts (the console renders after its requests and media arrive). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms = 20_000): Promise<T> {
  let last: T | undefined;
  const held = await waitFor(
    what,
    async () => {
      last = await read();
      return done(last) && { value: last };
    },
    { timeoutMs: ms, intervalMs: 200, detail: () => `last seen: ${JSON.stringify(last)}` },
  );
  return held.value;
}

const text = (page: Page) => page.evaluate(() => document.body.innerText);

describe('the console in Firefox', () => {
  it('signs in, shows a live session moving, then plays and seeks its recording', async () => {
    const run = runLauncher(['--user', 'firefox-e2e', '--target', 'ff-box', '--source', 'testsrc', '--seconds', '30']);
    const id = await run.sessionId;

    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    const response = await page.goto(baseUrl);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

    await page.locator('input[name="username"]').fill('admin');
    await page.locator('input[name="password"]').fill(adminPassword);
    await page.locator('button[type="submit"]').click();
    await until(
      () => text(page),
      (t) => t.includes('Signed in as admin'),
      'sign-in',
    );
    await until(
      () => text(page),
      (t) => t.includes('ff-box'),
      'the session in the Active list',
    );
    await page.screenshot({ path: path.join(results, 'firefox-sessions.png') });

    // Watch Live: MediaSource fed from the live socket; the video's clock advances while we watch.
    await page.goto(`${baseUrl}/#/sessions/${id}/live`);
    const playing = await until(
      () => video(page),
      (v) => v !== null && !v.paused && v.readyState >= 3 && v.currentTime > 0,
      'the live video to play',
      30_000,
    );
    // The picture moves: the clock passes 2.5 s beyond where it first played.
    await until(
      () => video(page),
      (v) => v !== null && v.currentTime > (playing?.currentTime ?? 0) + 2.5,
      'the live video to advance 2.5 s',
    );
    expect(await text(page)).toContain('admin'); // who is watching
    await page.screenshot({ path: path.join(results, 'firefox-watch-live.png') });

    // After it ends and is sealed: the recording page plays the seekable WebM and seeks to the middle.
    const exit = await run.exit;
    expect(exit.code, exit.stderr).toBe(0);
    await waitFor('the recording to be sealed', async () => (await session(id)).recording.status === 'ready');
    await page.goto(`${baseUrl}/#/sessions/${id}/recording`);
    await until(
      () => video(page),
      (v) => v !== null && v.readyState >= 1,
      'the recording to load',
    );
    await page.evaluate(() => {
      const v = document.querySelector('video');
      if (v) v.currentTime = 12;
    });
    await until(
      () => video(page),
      (v) => v !== null && Math.abs(v.currentTime - 12) < 1 && v.readyState >= 2 && v.error === null,
      'the seek to 12 s',
    );
    await page.screenshot({ path: path.join(results, 'firefox-recording.png') });

    expect(problems.filter((p) => /Content.Security.Policy|CSP|TypeError|ReferenceError/i.test(p))).toEqual([]);
    await page.close();
  });
});
