/**
 * MP4 processing end to end: the real launcher records ffmpeg's test pattern, the real `witness-processor`
 * converts it with real ffmpeg, ffprobe and Debian's Chromium check the MP4. With the processor `npm start`
 * runs beside the server (global-setup's); then, on a server of its own with no processor beside it, a processor
 * killed with SIGKILL mid-conversion loses the job to another, and a sealed recording damaged in storage fails
 * with ffmpeg's cause shown in the console and converts after Retry once it is restored.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { eventually, launchChromium, screenshot, signIn } from './console.ts';
import { adminPassword, apiKey, baseUrl, ffprobeDuration, kill, root, runLauncher } from './helpers.ts';

interface ProcessingView {
  status: string;
  attempts: number;
  percent: number | null;
  bytes: number | null;
  sha256: string | null;
  error: { message: string; exitCode: number | null; stderrTail: string } | null;
}

function client(server: string, key = apiKey) {
  return (pathname: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${server}/api/v1${pathname}`, { ...init, headers });
  };
}

async function processingOf(server: string, id: string): Promise<ProcessingView | null> {
  const res = await client(server)(`/sessions/${id}/processing`);
  if (!res.ok) throw new Error(`GET processing ${res.status} ${await res.text()}`);
  return ((await res.json()) as { processing: ProcessingView | null }).processing;
}

/** Records `seconds` of the test pattern into `server`; resolves once the recording is sealed. */
async function record(server: string, user: string, seconds: number, fps = 5): Promise<string> {
  const run = runLauncher([
    '--server',
    server,
    '--user',
    user,
    '--target',
    'mp4-host',
    '--source',
    'testsrc',
    '--fps',
    String(fps),
    '--seconds',
    String(seconds),
  ]);
  const id = await run.sessionId;
  const exit = await run.exit;
  expect(exit.code, run.output()).toBe(0);
  await waitFor(
    'the recording to be sealed',
    async () => {
      const res = await client(server)(`/sessions/${id}`);
      return ((await res.json()) as { recording: { status: string } }).recording.status === 'ready';
    },
    { timeoutMs: 90_000 },
  );
  return id;
}

async function waitForProcessing(server: string, id: string, status: string, timeoutMs = 120_000) {
  let last: ProcessingView | null = null;
  await waitFor(
    `the MP4 to be ${status}`,
    async () => {
      last = await processingOf(server, id);
      return last?.status === status;
    },
    { timeoutMs, detail: () => JSON.stringify(last) },
  );
  return last as unknown as ProcessingView;
}

async function download(server: string, pathname: string, file: string): Promise<Buffer> {
  const res = await client(server)(pathname);
  expect(res.status, pathname).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  writeFileSync(file, bytes);
  return bytes;
}

/** ffprobe's codec of the first video stream. */
function videoCodec(file: string): string {
  return String(
    execFileSync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name',
      '-of',
      'csv=p=0',
      file,
    ]),
  ).trim();
}

/** Plays the session's MP4 in a `<video>` on `page` (signed in): resolves with how far it played. */
async function playMp4(page: Page, id: string): Promise<{ width: number; played: number; duration: number }> {
  return page.evaluate(async (url) => {
    const video = document.createElement('video');
    video.muted = true;
    video.src = url;
    document.body.append(video);
    await new Promise<void>((resolve, reject) => {
      video.addEventListener('loadedmetadata', () => resolve(), { once: true });
      video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}`)), { once: true });
    });
    await video.play();
    await new Promise<void>((resolve) => {
      const check = () => (video.currentTime > 0.5 ? resolve() : requestAnimationFrame(check));
      check();
    });
    video.pause();
    const result = { width: video.videoWidth, played: video.currentTime, duration: video.duration };
    video.remove();
    return result;
  }, `/api/v1/sessions/${id}/recording.mp4`);
}

let browser: Browser;
const work = mkdtempSync(path.join(tmpdir(), 'witness-e2e-mp4-'));

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the processor npm start runs', () => {
  it('converts a real recording to an H.264 MP4 of the same length that plays in Chromium', async () => {
    const id = await record(baseUrl, 'mp4-e2e', 6);
    const requested = await client(baseUrl)(`/sessions/${id}/processing`, { method: 'POST' });
    expect(requested.status).toBe(202);
    const ready = await waitForProcessing(baseUrl, id, 'ready');
    expect(ready.attempts).toBe(1);
    const mp4 = path.join(work, 'embedded.mp4');
    const webm = path.join(work, 'embedded.webm');
    const bytes = await download(baseUrl, `/sessions/${id}/recording.mp4`, mp4);
    await download(baseUrl, `/sessions/${id}/recording.webm`, webm);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(ready.sha256);
    expect(videoCodec(mp4)).toBe('h264');
    expect(Math.abs(ffprobeDuration(mp4) - ffprobeDuration(webm))).toBeLessThanOrEqual(1);

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
    await page.goto(baseUrl);
    await signIn(page, 'admin', adminPassword);
    await page.goto(`${baseUrl}/#/sessions/${id}/recording`);
    await page.getByText(/MP4 ready \(\d/).waitFor();
    await page.getByRole('link', { name: 'Download MP4' }).waitFor();
    const played = await playMp4(page, id);
    expect(played.width).toBe(1280);
    expect(played.played).toBeGreaterThan(0.5);
    expect(Math.abs(played.duration - ffprobeDuration(webm))).toBeLessThanOrEqual(1);
    await screenshot(page, 'mp4-ready');
    await page.context().close();
  });
});

describe('processors on a server of their own', () => {
  let port = 0;
  let state = '';
  let server: ChildProcess | null = null;
  let serverOutput = '';
  let processorKey = '';
  const processors: ChildProcess[] = [];
  const base = () => `http://127.0.0.1:${port}`;

  /** A `witness-processor` (its own process group, so that SIGKILL takes its ffmpeg too). */
  function startProcessor(name: string): { child: ChildProcess; workDir: string; output: () => string } {
    const workDir = mkdtempSync(path.join(work, `${name}-`));
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'agents/processor/bin/witness-processor.mjs'),
        '--server',
        base(),
        '--lease-seconds',
        '5',
        '--poll-seconds',
        '1',
        '--work-dir',
        workDir,
      ],
      { env: { ...process.env, WITNESS_API_KEY: processorKey }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    processors.push(child);
    return { child, workDir, output: () => output };
  }

  beforeAll(async () => {
    port = await new Promise<number>((resolve, reject) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() =>
          typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
        );
      });
    });
    state = mkdtempSync(path.join(tmpdir(), 'witness-e2e-mp4-state-'));
    server = spawn(
      process.execPath,
      ['scripts/start.ts', '--port', String(port), '--persist-to', state, '--skip-build', '--no-processor'],
      {
        cwd: root,
        env: {
          ...process.env,
          WITNESS_API_KEY: apiKey,
          WITNESS_ADMIN_PASSWORD: adminPassword,
          WRANGLER_SEND_METRICS: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    server.stdout?.on('data', (d) => (serverOutput += d));
    server.stderr?.on('data', (d) => (serverOutput += d));
    await waitFor(
      'the test server to answer',
      async () => {
        if (server?.exitCode !== null) throw new Error(`npm start exited:\n${serverOutput}`);
        return fetch(`${base()}/api/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 150_000 },
    );
    expect(serverOutput).not.toContain('MP4 processor running');
    const created = await client(base())('/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'e2e processors', scopes: ['processor'] }),
    });
    expect(created.status).toBe(201);
    processorKey = ((await created.json()) as { secret: string }).secret;
  });

  afterAll(async () => {
    for (const child of processors) kill(child);
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    rmSync(state, { recursive: true, force: true });
  });

  it('a processor killed with SIGKILL mid-conversion loses the job to another processor, which finishes it', async () => {
    const id = await record(base(), 'mp4-kill', 20, 15);
    const first = startProcessor('first');
    await waitFor('the first processor', () => first.output().includes('processor ready'));
    expect((await client(base())(`/sessions/${id}/processing`, { method: 'POST' })).status).toBe(202);
    // Mid-conversion: ffmpeg has begun writing the MP4 in the first processor's work directory.
    const partial = () =>
      readdirSync(first.workDir).some((job) => {
        try {
          return statSync(path.join(first.workDir, job, 'recording.mp4')).size > 0;
        } catch {
          return false;
        }
      });
    await waitFor('ffmpeg to be writing the MP4', partial, { intervalMs: 20, detail: first.output });
    kill(first.child);
    expect((await processingOf(base(), id))?.status).toBe('processing');

    const second = startProcessor('second');
    const ready = await waitForProcessing(base(), id, 'ready', 150_000);
    expect(ready.attempts).toBe(2);
    expect(second.output()).toContain(`${id}: MP4 ready`);
    const mp4 = path.join(work, 'killed.mp4');
    const webm = path.join(work, 'killed.webm');
    await download(base(), `/sessions/${id}/recording.mp4`, mp4);
    await download(base(), `/sessions/${id}/recording.webm`, webm);
    expect(videoCodec(mp4)).toBe('h264');
    expect(Math.abs(ffprobeDuration(mp4) - ffprobeDuration(webm))).toBeLessThanOrEqual(1);
    const audit = (await (await client(base())(`/audit?session=${id}&limit=200`)).json()) as {
      entries: Array<{ action: string; targetId: string | null; actorName: string; details: Record<string, unknown> }>;
    };
    const leases = audit.entries.filter((e) => e.action === 'processing.leased' && e.targetId === id);
    expect(leases.map((e) => e.details.attempt).sort()).toEqual([1, 2]);
    const taken = leases.find((e) => e.details.attempt === 2);
    expect(String((taken?.details.previousError as { message?: string } | null)?.message)).toContain('ran out');
    kill(second.child);
  });

  it('a recording damaged in storage fails with ffmpeg’s cause in the console, and converts after Retry once restored', async () => {
    const id = await record(base(), 'mp4-damaged', 5);
    const webm = await download(base(), `/sessions/${id}/recording.webm`, path.join(work, 'damaged.webm'));
    // The sealed file as the local R2 keeps it on disk: damage its EBML header, as bit rot or a careless restore would.
    const blobs = path.join(state, 'v3', 'r2', 'witness-recordings', 'blobs');
    const blob = readdirSync(blobs)
      .map((name) => path.join(blobs, name))
      .find((file) => statSync(file).size === webm.byteLength && readFileSync(file).equals(webm));
    if (!blob) throw new Error('the sealed recording is not among the local R2 blobs');
    const damaged = Buffer.from(webm);
    damaged.fill(0, 0, 64);
    writeFileSync(blob, damaged);

    const processor = startProcessor('damaged');
    expect((await client(base())(`/sessions/${id}/processing`, { method: 'POST' })).status).toBe(202);
    const failed = await waitForProcessing(base(), id, 'failed');
    expect(failed.attempts).toBe(1); // ffmpeg's verdict is not retried on its own
    expect(failed.error?.exitCode).not.toBeNull();
    expect(failed.error?.exitCode).not.toBe(0);
    expect(failed.error?.message).toMatch(/^ffmpeg exited with code/);
    expect(failed.error?.stderrTail).toMatch(/pipe:0|Invalid data|EBML/i);

    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(base());
    await signIn(page, 'admin', adminPassword);
    // The session list shows the failure, its cause and the attempts; the recording page offers Retry.
    await page.getByRole('button', { name: 'Ended', exact: true }).click();
    const row = page.getByRole('row', { name: /mp4-damaged/ });
    await row.getByText('MP4 failed').waitFor();
    await eventually(() => row.textContent()).toContain('ffmpeg exited with code');
    await eventually(() => row.textContent()).toContain('1 of 5 attempts');
    await row.getByRole('button', { name: 'Retry' }).waitFor();
    await page.getByRole('button', { name: 'Retry failed MP4s' }).waitFor();
    await screenshot(page, 'mp4-failed-list');
    await page.goto(`${base()}/#/sessions/${id}/recording`);
    await page.getByText('MP4 failed').waitFor();
    await screenshot(page, 'mp4-failed-recording-page');

    // Restored from a backup: the same bytes as sealed. Retry from the console.
    writeFileSync(blob, webm);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByText(/MP4 ready \(\d/).waitFor({ timeout: 120_000 });
    const played = await playMp4(page, id);
    expect(played.played).toBeGreaterThan(0.5);
    await screenshot(page, 'mp4-ready-after-retry');
    await context.close();
    const ready = await processingOf(base(), id);
    expect(ready).toMatchObject({ status: 'ready', attempts: 1, error: null });
    const audit = (await (await client(base())(`/audit?session=${id}&limit=200`)).json()) as {
      entries: Array<{ action: string; targetId: string | null; actorName: string }>;
    };
    const mine = audit.entries.filter((e) => e.targetId === id).map((e) => `${e.action} ${e.actorName}`);
    expect(mine).toEqual(
      expect.arrayContaining([
        'processing.requested bootstrap key',
        'processing.failed e2e processors',
        'processing.retried admin',
      ]),
    );
    kill(processor.child);
  });
});
