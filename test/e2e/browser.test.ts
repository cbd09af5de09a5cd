/**
 * The console in Debian's Chromium: sign-in, playback, what each permission shows, recorded text that stays
 * text, the audit log, users and keys, settings. Screenshots of every page land in test-results/.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import {
  type ConsoleTab,
  eventually,
  launchChromium,
  localDateTime,
  openConsole,
  screenshot,
  signIn,
  videoState,
} from './console.ts';
import { adminPassword, api, apiKey, baseUrl, runLauncher, session } from './helpers.ts';

let browser: Browser;
/** An ended session with a sealed recording, recorded once for the whole file. */
let endedId: string;
const tabs: ConsoleTab[] = [];

async function open(): Promise<ConsoleTab> {
  const tab = await openConsole(browser);
  tabs.push(tab);
  return tab;
}

async function openSignedIn(username = 'admin', password = adminPassword): Promise<ConsoleTab> {
  const tab = await open();
  await signIn(tab.page, username, password);
  return tab;
}

/** A session launched through the API and left waiting for a launcher (status `pending`). */
async function launchPending(user: string, target: string): Promise<string> {
  const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user, target }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { sessionId: string }).sessionId;
}

beforeAll(async () => {
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
  endedId = await launcher.sessionId;
  expect((await launcher.exit).code).toBe(0);
  await waitFor('the recording to be sealed', async () => (await session(endedId)).recording.status === 'ready');
  browser = await launchChromium();
});

afterAll(async () => {
  for (const tab of tabs) {
    // Every page the tests opened ran without CSP violations, script errors or dialogs.
    expect(tab.problems).toEqual([]);
    expect(tab.dialogs).toEqual([]);
  }
  await browser?.close();
});

describe('Chromium plays a recording', () => {
  it('in a <video> element, with a duration, and seeks', async () => {
    const context = await browser.newContext({
      extraHTTPHeaders: { authorization: `Bearer ${apiKey}` },
      viewport: { width: 1280, height: 720 },
    });
    const page = await context.newPage();
    // A page under the console's CSP (media-src 'self'); API answers carry `default-src 'none'`.
    await page.goto(`${baseUrl}/`);
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
      return { duration, afterSeek, width: video.videoWidth };
    }, `/api/v1/sessions/${endedId}/recording.webm`);
    expect(Math.abs(result.duration - 8)).toBeLessThanOrEqual(1);
    expect(Math.abs(result.afterSeek - result.duration / 2)).toBeLessThan(0.6);
    expect(result.width).toBeGreaterThan(0);
    // It plays on from the seek: half a second of the recording goes by.
    await waitFor('the video to play 0.5 s past the seek', async () => {
      const state = await videoState(page);
      return !state.paused && state.readyState >= 2 && state.currentTime > result.afterSeek + 0.5;
    });
    await screenshot(page, 'recording-playback');
    await context.close();
  });

  it('the console signs in, lists the ended session and plays it from the cookie-authenticated URL', async () => {
    const { page } = await open();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'console-sign-in');

    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toBe('Wrong username or password.');
    await screenshot(page, 'console-sign-in-error');

    await signIn(page, 'admin', adminPassword);
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link').allTextContents()).toEqual([
      'Sessions',
      'Audit log',
      'Users & keys',
      'Settings',
    ]);

    await page.getByRole('button', { name: 'Ended' }).click();
    const row = page.getByRole('row', { name: /auditor-demo/ });
    await row.waitFor();
    expect(await row.getByRole('link', { name: 'Download' }).getAttribute('href')).toBe(
      `/api/v1/sessions/${endedId}/recording.webm?download=1`,
    );
    await screenshot(page, 'console-sessions-ended');

    // The user opens the session's page; Watch recording opens the one Watch page, as for every session.
    expect(await row.getByRole('link', { name: 'auditor-demo' }).getAttribute('href')).toBe(`#/sessions/${endedId}`);
    await row.getByRole('link', { name: 'Watch recording' }).click();
    await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1);
    const media = await page.locator('video').evaluate((v: HTMLVideoElement) => ({ duration: v.duration }));
    expect(media.duration).toBeGreaterThan(6);
    await screenshot(page, 'console-recording');
    await page.goBack();
    await page.getByRole('button', { name: 'Ended' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const me = await page.request.get(`${baseUrl}/api/v1/auth/me`);
    expect(me.status()).toBe(401);
  });
});

describe('the console shows each user only what they may do', () => {
  it('a user created with only Session Monitoring sees sessions, without terminate, playback or admin pages', async () => {
    const pendingId = await launchPending('pending-user', 'db-03.prod');
    const admin = await openSignedIn();
    await admin.page.getByRole('link', { name: 'Users & keys' }).click();
    await admin.page.getByRole('button', { name: 'New user' }).click();
    const form = admin.page.getByRole('dialog', { name: 'New user' });
    await form.getByLabel('Username').fill('monitor-e2e');
    await form.getByLabel('Display name (optional)').fill('Monitor <b>E2E</b>');
    await form.getByLabel('Temporary password').fill('temporary-password-1');
    await form.getByRole('checkbox', { name: 'Session Monitoring' }).check();
    await screenshot(admin.page, 'console-users-new');
    await form.getByRole('button', { name: 'Create user' }).click();
    const userRow = admin.page.getByRole('row', { name: /monitor-e2e/ });
    await eventually(() => userRow.getByRole('cell').nth(2).textContent()).toBe('Session Monitoring');
    await eventually(() => userRow.getByRole('cell').nth(1).textContent()).toBe('Monitor <b>E2E</b>');
    await screenshot(admin.page, 'console-users', true);

    // The same rows, for the admin: the controls are there.
    await admin.page.getByRole('link', { name: 'Sessions' }).click();
    await admin.page.getByRole('button', { name: 'Pending' }).click();
    await admin.page
      .getByRole('row', { name: /pending-user/ })
      .getByRole('button', { name: 'Terminate' })
      .waitFor();

    const monitor = await open();
    await signIn(monitor.page, 'monitor-e2e', 'temporary-password-1');
    await monitor.page.getByRole('heading', { name: 'Choose your own password' }).waitFor();
    expect(await monitor.page.getByRole('navigation').count()).toBe(0);
    await screenshot(monitor.page, 'console-change-password');
    await monitor.page.getByLabel('Temporary password (the one you just signed in with)').fill('temporary-password-1');
    await monitor.page.getByLabel('Your new password', { exact: true }).fill('monitor-own-password-2');
    await monitor.page.getByLabel('Repeat your new password').fill('monitor-own-password-2');
    await monitor.page.getByRole('button', { name: 'Change password' }).click();
    await monitor.page.getByRole('heading', { name: 'Sessions' }).waitFor();

    const nav = monitor.page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Sessions']);
    await monitor.page.getByRole('button', { name: 'Pending' }).click();
    const pendingRow = monitor.page.getByRole('row', { name: /pending-user/ });
    await pendingRow.waitFor();
    expect(await pendingRow.getByRole('button').count()).toBe(0);
    await monitor.page.getByRole('button', { name: 'Ended' }).click();
    const endedRow = monitor.page.getByRole('row', { name: /auditor-demo/ });
    await endedRow.waitFor();
    expect(await endedRow.getByRole('button').count()).toBe(0);
    // Only the session's page (its facts; no playback, no download): Session Monitoring may read those.
    expect(await endedRow.getByRole('link').allTextContents()).toEqual(['auditor-demo']);
    expect(await monitor.page.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);
    await screenshot(monitor.page, 'console-sessions-monitor');

    // A page outside their permissions, asked for by address, is not shown; the API refuses it too.
    await monitor.page.goto(`${baseUrl}/#/users`);
    await monitor.page.getByRole('heading', { name: 'Sessions' }).waitFor();
    expect(await monitor.page.getByRole('heading', { name: 'Users' }).count()).toBe(0);
    expect((await monitor.page.request.get(`${baseUrl}/api/v1/users`)).status()).toBe(403);
    expect((await monitor.page.request.get(`${baseUrl}/api/v1/sessions/${endedId}/recording.webm`)).status()).toBe(403);
    expect((await session(pendingId)).status).toBe('pending');
  });

  it('terminates a session through the dialog, with a message', async () => {
    const id = await launchPending('terminate-me', 'jump-01');
    const { page } = await openSignedIn();
    await page.getByRole('button', { name: 'Pending' }).click();
    const terminate = page.getByRole('row', { name: /terminate-me/ }).getByRole('button', { name: 'Terminate' });
    const dialog = page.getByRole('dialog', { name: 'terminate-me on jump-01' });

    // By keyboard: Enter opens the dialog with focus inside, Escape closes it and focus returns to the button.
    await terminate.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    await page.keyboard.press('Escape');
    await eventually(() => dialog.count()).toBe(0);
    expect(await terminate.evaluate((b) => b === document.activeElement)).toBe(true);
    expect((await session(id)).status).toBe('pending');

    await terminate.click();
    expect(await dialog.getByRole('radio', { name: 'Terminate the session with a message' }).isChecked()).toBe(true);
    await dialog.getByLabel('Message to the user').fill('Ended by security review.');
    await screenshot(page, 'console-terminate-dialog');
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    await eventually(() => page.getByRole('status').textContent()).toContain('Session terminated');
    expect(await session(id)).toMatchObject({ status: 'ended', endReason: 'terminated_by_admin' });
  });
});

describe('recorded and user-supplied text stays text', () => {
  const IMG = '<img src=x onerror="window.__xss=1">';
  const SCRIPT = '<script>window.__xss=2</script>';

  it('a hostile user and target show literally in the sessions list, dialogs and audit log', async () => {
    await launchPending(IMG, SCRIPT);
    const tab = await openSignedIn();
    const { page } = tab;
    await page.getByRole('button', { name: 'Pending' }).click();
    const row = page.getByRole('row').filter({ hasText: SCRIPT });
    await row.waitFor();
    expect(await row.getByRole('cell').nth(0).textContent()).toBe(IMG);
    expect(await row.getByRole('cell').nth(1).textContent()).toBe(SCRIPT);

    await row.getByRole('button', { name: 'Terminate' }).click();
    await eventually(() => page.getByRole('dialog').getByRole('heading').textContent()).toBe(`${IMG} on ${SCRIPT}`);
    await screenshot(page, 'console-xss-sessions');
    await page.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Search', { exact: true }).fill('__xss');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const launched = page.getByRole('row', { name: /session\.launched/ }).first();
    // The sentence names the session by whom and what it recorded, as text, and links to it.
    await eventually(() => launched.getByRole('cell').nth(1).textContent()).toContain(
      `launched session ${IMG}@${SCRIPT}`,
    );
    const link = launched.getByRole('link', { name: `session ${IMG}@${SCRIPT}` });
    expect(await link.getAttribute('href')).toMatch(/^#\/sessions\/[^/]+\/recording$/);
    await launched.getByText('Details').click();
    await eventually(() => launched.getByRole('cell').nth(3).textContent()).toContain(JSON.stringify(IMG).slice(1, -1));
    await screenshot(page, 'console-xss-audit');

    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
    expect(await page.locator('img, main script, dialog script').count()).toBe(0);
    expect(tab.dialogs).toEqual([]);
  });
});

describe('audit log, users and keys, settings', () => {
  it('the audit log finds the admin signing in, and a failed attempt before it', async () => {
    const tab = await open();
    await tab.page.getByLabel('Username').fill('admin');
    await tab.page.getByLabel('Password', { exact: true }).fill('wrong-password-for-audit');
    await tab.page.getByRole('button', { name: 'Sign in' }).click();
    await tab.page.getByRole('alert').waitFor();
    await signIn(tab.page, 'admin', adminPassword);
    const { page } = tab;

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Actor').fill('admin');
    await page.getByLabel('Action').selectOption('login.succeeded');
    await page.getByLabel('From').fill(localDateTime(new Date(Date.now() - 3_600_000)));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const first = page.getByRole('row').nth(1);
    await eventually(() => first.getByRole('cell').nth(1).textContent()).toBe(
      'admin signed in (user, login.succeeded)',
    );
    const rows = await page.getByRole('row').count();
    expect(rows).toBeGreaterThanOrEqual(2);
    await screenshot(page, 'console-audit');

    await page.getByLabel('Action').selectOption('login.failed');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const failed = page.getByRole('row').nth(1);
    await eventually(() => failed.getByRole('cell').nth(1).textContent()).toMatch(/^A sign-in as admin failed/);
    await failed.getByText('Details').click();
    await eventually(() => failed.getByRole('cell').nth(3).textContent()).toContain('"failures":');

    // The actor in a sentence filters the log by them.
    await page.getByRole('button', { name: 'Clear' }).click();
    await first.getByRole('button', { name: 'admin' }).first().click();
    await eventually(() => page.getByLabel('Actor').inputValue()).toBe('admin');
  });

  it('creates an API key, shows its secret once, and revokes it', async () => {
    const { page, context } = await openSignedIn();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
    await page.getByRole('link', { name: 'Users & keys' }).click();
    await page.getByRole('button', { name: 'New API key' }).click();
    const form = page.getByRole('dialog', { name: 'New API key' });
    await form.getByLabel('Name', { exact: true }).fill('e2e-reader');
    // Nothing is preselected: a key gets only the scopes its maker chose.
    const scopes = form.getByRole('group', { name: 'Scopes' }).getByRole('checkbox');
    expect(await scopes.count()).toBeGreaterThan(3);
    for (const box of await scopes.all()) expect(await box.isChecked()).toBe(false);
    await form.getByRole('checkbox', { name: 'Read sessions and recordings' }).check();
    await form.getByRole('button', { name: 'Create key' }).click();

    const dialog = page.getByRole('dialog', { name: 'API key e2e-reader created' });
    await eventually(() => dialog.textContent()).toContain('You will not see it again');
    const secret = await dialog.getByLabel('Secret').inputValue();
    expect(secret).toMatch(/^wk_/);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await eventually(() => dialog.getByRole('status').textContent()).toBe('Copied to the clipboard.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await screenshot(page, 'console-key-secret');
    await dialog.getByRole('button', { name: 'Done' }).click();

    const asKey = () => fetch(`${baseUrl}/api/v1/sessions`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asKey()).status).toBe(200);
    expect(await page.getByText(secret).count()).toBe(0);

    const row = page.getByRole('row', { name: /e2e-reader/ });
    await eventually(() => row.getByRole('cell').nth(1).textContent()).toBe(`${secret.slice(0, 10)}…`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page
      .getByRole('dialog', { name: 'Revoke the key e2e-reader?' })
      .getByRole('button', { name: 'Revoke key' })
      .click();
    await eventually(() => row.getByRole('cell').nth(6).textContent()).toContain('Revoked');
    await screenshot(page, 'console-users-keys', true);
    expect((await asKey()).status).toBe(401);
  });

  it('saves the Session Recording settings', async () => {
    const { page } = await openSignedIn();
    await page.getByRole('link', { name: 'Settings' }).click();
    const inactivity = page.getByLabel(/without activity/);
    await eventually(() => inactivity.inputValue()).toBe('15');
    await inactivity.fill('20');
    await page.getByLabel(/^Recording level/).selectOption('basic');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain('Saved.');
    const saved = (await (await api('/settings/recording')).json()) as {
      inactivityTimeoutMs: number;
      recordingLevel: string;
    };
    expect(saved).toMatchObject({ inactivityTimeoutMs: 20 * 60_000, recordingLevel: 'basic' });

    // A rule by target: its pattern, level and storage, offered from the deployment's locations only.
    await page.getByLabel('Save recordings to').selectOption('RECORDINGS_EU');
    await page.getByRole('button', { name: 'Add a rule' }).click();
    await page.getByLabel('Rule 1 targets').fill('db-*');
    await page.getByLabel('Rule 1 recording level').selectOption('advanced');
    await page.getByLabel('Rule 1 storage').selectOption('RECORDINGS');
    await page.getByRole('button', { name: 'Save rules' }).click();
    await eventually(() => page.getByText(/New sessions are saved and recorded by these rules/).count()).toBe(1);
    await screenshot(page, 'console-settings');
    expect(await (await api('/settings/recording/rules')).json()).toEqual({
      storage: 'RECORDINGS_EU',
      rules: [{ targets: 'db-*', recordingLevel: 'advanced', storage: 'RECORDINGS' }],
    });
    // Back to the defaults, for the other test files.
    const reset = await api('/settings/recording', {
      method: 'PUT',
      body: JSON.stringify({ inactivityTimeoutMs: 15 * 60_000, recordingLevel: 'advanced' }),
    });
    expect(reset.status).toBe(200);
    const resetRules = await api('/settings/recording/rules', {
      method: 'PUT',
      body: JSON.stringify({ storage: 'RECORDINGS', rules: [] }),
    });
    expect(resetRules.status).toBe(200);
  });
});
