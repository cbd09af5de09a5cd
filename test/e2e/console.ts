/** Driving the console in Debian's Chromium: launch, sign in, screenshot, and catch CSP violations. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { baseUrl, root } from './helpers.ts';

export const results = path.join(root, 'test-results');

export function launchChromium(): Promise<Browser> {
  mkdirSync(results, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export interface ConsoleTab {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations and uncaught errors seen so far. */
  problems: string[];
  /** Dialogs (alert, confirm, prompt) the page opened; the console never should. */
  dialogs: string[];
}

/** A fresh browser context (its own cookies) with the console open at 1280×720. */
export async function openConsole(browser: Browser): Promise<ConsoleTab> {
  return openTab(await browser.newContext({ viewport: { width: 1280, height: 720 } }));
}

/** The console in another page of `context`: its cookies, so a signed-in context opens signed in. */
export async function openTab(context: BrowserContext): Promise<ConsoleTab> {
  const page = await context.newPage();
  const tab: ConsoleTab = { context, page, problems: [], dialogs: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
      tab.problems.push(message.text());
  });
  page.on('pageerror', (error) => tab.problems.push(error.message));
  page.on('dialog', (dialog) => {
    tab.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  const response = await page.goto(baseUrl);
  if (!response?.headers()['content-security-policy']?.includes("script-src 'self'")) {
    throw new Error('the console was served without its Content-Security-Policy');
  }
  return tab;
}

/** Saves test-results/<name>.png: the 1280×720 viewport, or the whole page. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: path.join(results, `${name}.png`), fullPage });
}

/** Polls a page value until the assertion holds (the console renders after its requests return). */
export function eventually<T>(value: () => Promise<T>) {
  return expect.poll(value, { timeout: 15_000, interval: 100 });
}

/** A `datetime-local` input's value for `date`, in this machine's time zone (the browser's too). */
export function localDateTime(date: Date): string {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** The first `<video>`'s playback state in the page. */
export function videoState(
  page: Page,
): Promise<{ currentTime: number; paused: boolean; playbackRate: number; readyState: number }> {
  return page.evaluate(() => {
    const video = document.querySelector('video');
    if (!video) throw new Error('no video element on the page');
    const { currentTime, paused, playbackRate, readyState } = video;
    return { currentTime, paused, playbackRate, readyState };
  });
}

/** The first `<video>`'s position, in seconds. */
export async function videoTime(page: Page): Promise<number> {
  return (await videoState(page)).currentTime;
}

/**
 * Signs in through the console's form. When the server throttles sign-ins from this address (10 a minute,
 * shared by every test file in the run), it tries again every 5 s until the limiter lets this address in.
 */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  const attempt = async () => {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    const answer = page.waitForResponse(
      (r) => r.url().endsWith('/api/v1/auth/login') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    const status = (await answer).status();
    if (status !== 200 && status !== 429) throw new Error(`sign-in as ${username} answered ${status}`);
    return status === 200;
  };
  await waitFor('the sign-in limit to let this address in', attempt, { timeoutMs: 75_000, intervalMs: 5_000 });
  await page.getByText(`Signed in as ${username}`, { exact: true }).waitFor();
}
