import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, baseUrl, root, runLauncher, session, waitUntil } from './helpers.ts';

const results = path.join(root, 'test-results');

describe('Chromium plays a recording', () => {
  let browser: Browser;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(results, { recursive: true });
    const launcher = runLauncher([
      '--user',
      'auditor-demo',
      '--target',
      'testsrc',
      '--source',
      'testsrc',
      '--seconds',
      '8',
    ]);
    sessionId = await launcher.sessionId;
    expect((await launcher.exit).code).toBe(0);
    await waitUntil('the recording to be sealed', async () => (await session(sessionId)).recording.status === 'ready');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('in a <video> element, with a duration, and seeks', async () => {
    const context = await browser.newContext({
      extraHTTPHeaders: { authorization: `Bearer ${apiKey}` },
      viewport: { width: 1280, height: 720 },
    });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/api/health`);
    const result = await page.evaluate(async (src) => {
      document.body.innerHTML = '';
      const video = document.createElement('video');
      video.muted = true;
      video.width = 960;
      document.body.append(video);
      const once = (event: string) =>
        new Promise<void>((resolve, reject) => {
          video.addEventListener(event, () => resolve(), { once: true });
          video.addEventListener('error', () => reject(new Error(`media error ${video.error?.code}`)), { once: true });
        });
      const loaded = once('loadedmetadata');
      video.src = src;
      await loaded;
      const duration = video.duration;
      const seeked = once('seeked');
      video.currentTime = duration / 2;
      await seeked;
      const afterSeek = video.currentTime;
      await video.play();
      await new Promise((r) => setTimeout(r, 1200));
      video.pause();
      return {
        duration,
        afterSeek,
        playedTo: video.currentTime,
        readyState: video.readyState,
        width: video.videoWidth,
      };
    }, `/api/v1/sessions/${sessionId}/recording.webm`);
    await page.screenshot({ path: path.join(results, 'recording-playback.png') });
    expect(Math.abs(result.duration - 8)).toBeLessThanOrEqual(1);
    expect(Math.abs(result.afterSeek - result.duration / 2)).toBeLessThan(0.6);
    expect(result.playedTo).toBeGreaterThan(result.afterSeek + 0.5);
    expect(result.readyState).toBeGreaterThanOrEqual(2);
    expect(result.width).toBeGreaterThan(0);
    await context.close();
  });

  it('the console lists the ended session and plays it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(baseUrl);
    await page.getByLabel('API key').fill(apiKey);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByRole('button', { name: 'Ended' }).click();
    const row = page.getByRole('row', { name: /auditor-demo/ });
    await row.waitFor();
    await row.getByRole('button', { name: 'Watch recording' }).click();
    const video = page.locator('video');
    await video.waitFor();
    await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1);
    await page.screenshot({ path: path.join(results, 'console-ended.png') });
    expect(await video.evaluate((v: HTMLVideoElement) => v.duration)).toBeGreaterThan(6);
    await context.close();
  });
});
