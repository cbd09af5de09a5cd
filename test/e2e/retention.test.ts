/**
 * Retention end to end, in Debian's Chromium against `npm start`: Settings saves the retention rules and shows
 * what the next run will do; the cron trigger, fired as wrangler dev fires it (`/cdn-cgi/local/scheduled` with a
 * time two days ahead), deletes a sealed SSH session's media; the session says so, its recording answers 410,
 * and `witness fetch-evidence` saves the manifest and says the media is gone. The test runs a server of its own
 * (scripts/start.ts, as global-setup does): the sweep acts on every session of the server it runs on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { eventually, launchChromium, screenshot, signIn } from './console.ts';
import { adminPassword, apiKey, fetchEvidence, root } from './helpers.ts';
import { SshFeed } from './ssh-feed.ts';

const DAY_MS = 86_400_000;

let browser: Browser;
let port: number;
let state: string;
let server: ChildProcess | null = null;
let serverOutput = '';
const problems: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const base = () => `http://127.0.0.1:${port}`;

function api(pathname: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${apiKey}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${base()}/api/v1${pathname}`, { ...init, headers });
}

beforeAll(async () => {
  port = await freePort();
  state = mkdtempSync(path.join(tmpdir(), 'witness-e2e-retention-'));
  const child = spawn(
    process.execPath,
    ['scripts/start.ts', '--port', String(port), '--persist-to', state, '--skip-build'],
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
  server = child;
  child.stdout?.on('data', (d) => (serverOutput += d));
  child.stderr?.on('data', (d) => (serverOutput += d));
  await waitFor(
    'the test server to answer',
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited:\n${serverOutput}`);
      return fetch(`${base()}/api/health`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 150_000 },
  );
  browser = await launchChromium();
});

afterAll(async () => {
  const child = server;
  if (child?.pid && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGINT');
    await exited;
  }
  await browser?.close();
  rmSync(state, { recursive: true, force: true });
  expect(problems).toEqual([]);
});

describe('retention', () => {
  it('is set in Settings, previewed, applied by the daily run, and leaves the manifest', async () => {
    // A sealed SSH session, fed as the proxy feeds it.
    const feed = await SshFeed.launch('retention-e2e', 'db-retention', base());
    await feed.connect();
    await feed.header({ version: 2, width: 80, height: 24, title: 'retention-e2e@db-retention' });
    await feed.events([[0.5, 'o', 'KEEP-OR-DELETE\r\n']]);
    await feed.activity([{ type: 'ssh.command', atMs: 500, text: 'cat /etc/retention-e2e' }]);
    await feed.end();
    const id = feed.sessionId;
    const view = async () =>
      (await (await api(`/sessions/${id}`)).json()) as {
        recording: { status: string };
        retention: { state: string | null; notice: string | null };
      };
    await waitFor('the cast to be sealed', async () => (await view()).recording.status === 'ready');

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(base());
    await signIn(page, 'admin', adminPassword);
    await page.goto(`${base()}/#/settings`);
    const form = page.getByRole('form', { name: 'Retention' });
    await form.waitFor();
    // Off by default: the next run would do nothing.
    const preview = page.getByTestId('retention-next-run');
    await eventually(() => preview.locator('[data-count="delete"]').textContent()).toBe('0');

    await form.getByLabel('Delete recordings after N days').check();
    await form.locator('input[name="delete-days"]').fill('1');
    await form.getByLabel('Move recordings to archive after N days').uncheck();
    const saved = page.waitForResponse(
      (r) => r.url().endsWith('/api/v1/settings/recording/retention') && r.request().method() === 'PUT',
    );
    await form.getByRole('button', { name: 'Save retention' }).click();
    expect((await saved).status()).toBe(200);
    await form.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    expect(await (await api('/settings/recording/retention')).json()).toEqual({
      archive: { enabled: false, afterDays: 90 },
      delete: { enabled: true, afterDays: 1 },
    });
    // The preview is the server's count for the next 03:00 UTC run: a session that ended just now is not due.
    const next = (await (await api('/settings/recording/retention/next-run')).json()) as {
      at: string;
      delete: number;
      archive: number;
      held: number;
    };
    expect(new Date(next.at).getUTCHours()).toBe(3);
    // Its cutoff is a day before a run less than a day away: before the session ended.
    expect(next.delete).toBe(0);
    await eventually(() => preview.locator('[data-count="delete"]').textContent()).toBe(String(next.delete));
    expect(await preview.locator('[data-count="held"]').textContent()).toBe(String(next.held));
    await screenshot(page, 'retention-settings');

    // A legal hold, placed from the sessions list with its reason.
    await page.goto(`${base()}/#/sessions?status=all`);
    const row = page.getByRole('row', { name: /retention-e2e/ });
    const holdDialog = page.getByRole('dialog');
    await row.getByRole('button', { name: 'Legal hold' }).click();
    await holdDialog.getByLabel('Why it is held').fill('Case E2E-1');
    await holdDialog.getByRole('button', { name: 'Place legal hold' }).click();
    await page.getByRole('status').filter({ hasText: 'Legal hold placed' }).waitFor();
    await row.locator('.rec-held').waitFor();

    // The cron trigger, as wrangler dev fires it, two days on: the session is past its day, but held.
    const at = Date.now() + 2 * DAY_MS;
    const runs = async () =>
      ((await (await api('/audit?limit=200')).json()) as { entries: Array<{ action: string }> }).entries.filter(
        (e) => e.action === 'retention.run',
      ).length;
    const fire = async () => {
      const before = await runs();
      const fired = await fetch(`${base()}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('0 3 * * *')}&time=${at}`);
      expect(fired.status).toBe(200);
      await waitFor('the retention run to finish', async () => (await runs()) > before);
    };
    await fire();
    expect((await view()).retention.state).toBeNull();
    expect((await api(`/sessions/${id}/recording.cast`)).status).toBe(200);

    // Released (with its reason), the next run deletes it.
    await row.getByRole('button', { name: 'Release hold' }).click();
    await holdDialog.getByLabel('Why it is released').fill('Case E2E-1 closed');
    await holdDialog.getByRole('button', { name: 'Release hold' }).click();
    await page.getByRole('status').filter({ hasText: 'Legal hold released' }).waitFor();
    await fire();
    await waitFor('the sweep to delete the media', async () => (await view()).retention.state === 'deleted');
    expect((await view()).retention.notice).toBe(
      `recording deleted by retention on ${new Date(at).toISOString().slice(0, 10)}`,
    );
    const cast = await api(`/sessions/${id}/recording.cast`);
    expect(cast.status).toBe(410);
    expect(((await cast.json()) as { error: { code: string } }).error.code).toBe('media_deleted');

    // The console says so in the list, and offers nothing to play.
    await row.getByText(`recording deleted by retention on ${new Date(at).toISOString().slice(0, 10)}`).waitFor();
    expect(await row.getByRole('link', { name: 'Watch recording' }).count()).toBe(0);
    expect(await row.locator('.rec-ready').count()).toBe(0);
    await screenshot(page, 'retention-deleted-session');

    // Evidence export still returns the manifest and says the media is gone.
    const evidence = fetchEvidence(id, base(), apiKey);
    try {
      expect(evidence.fetched.status, evidence.fetched.stderr).toBe(0);
      expect(evidence.fetched.stdout).toContain('deleted by retention');
      expect(existsSync(path.join(evidence.dir, 'manifest.json'))).toBe(true);
      expect(existsSync(path.join(evidence.dir, 'recording.cast'))).toBe(false);
    } finally {
      evidence.remove();
    }

    // The audit log has the run, the session's deletion and the settings change.
    const audit = (await (await api('/audit?limit=50')).json()) as {
      entries: Array<{ action: string; targetId: string | null; actorName: string }>;
    };
    const actions = audit.entries.map((e) => `${e.action} ${e.targetId === id ? 'session' : ''}`.trim());
    expect(actions).toContain('retention.run');
    expect(actions).toContain('session.media_deleted session');
    expect(actions).toContain('settings.changed');
    expect(actions).toContain('session.held session');
    expect(actions).toContain('session.released session');
    await context.close();
  });
});
