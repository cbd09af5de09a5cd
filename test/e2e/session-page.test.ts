/**
 * A session's page in Debian's Chromium: a desktop session recorded by the real launcher and terminated with a
 * message shows who ended it, why and with what words; its Evidence panel verifies the signed manifest, the chain,
 * every piece and the activity in the browser, and flags a piece changed in storage afterwards; an SSH session with
 * a lost piece shows the gap.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { type ConsoleTab, eventually, launchChromium, openConsole, screenshot, signIn } from './console.ts';
import { adminPassword, api, runLauncher, session, state } from './helpers.ts';
import { SshFeed } from './ssh-feed.ts';

const RUN = Date.now().toString(36);
const MESSAGE = `Terminated by security ${RUN}: unapproved change.`;

let browser: Browser;
let tab: ConsoleTab;
let desktop: string;

/**
 * Changes one byte in the middle of the local R2 blob that holds the session's stored piece `bytes`: the blob
 * miniflare's bucket index names for one of the session's piece keys (another session may hold the same bytes).
 */
function tamperWithStoredPiece(sessionId: string, bytes: Uint8Array): void {
  const index = path.join(state, 'v3/r2/miniflare-R2BucketObject');
  const blobs = readdirSync(index)
    .filter((file) => file.endsWith('.sqlite') && file !== 'metadata.sqlite')
    .flatMap((file) => {
      const db = new DatabaseSync(path.join(index, file), { readOnly: true });
      try {
        return db
          .prepare('SELECT blob_id FROM _mf_objects WHERE key LIKE ? AND size = ?')
          .all(`sessions/${sessionId}/pieces/%`, bytes.byteLength)
          .map((row) => String(row.blob_id));
      } finally {
        db.close();
      }
    });
  const files = readdirSync(path.join(state, 'v3/r2'))
    .map((bucket) => path.join(state, 'v3/r2', bucket, 'blobs'))
    .flatMap((dir) => blobs.map((blob) => path.join(dir, blob)))
    .filter((file) => existsSync(file) && Buffer.compare(readFileSync(file), bytes) === 0);
  if (files.length !== 1) throw new Error(`expected one stored blob of the piece, found ${files.length}`);
  const changed = Buffer.from(bytes);
  const at = Math.floor(changed.length / 2);
  changed[at] = (changed[at] ?? 0) ^ 0xff;
  writeFileSync(files[0] as string, changed);
}

beforeAll(async () => {
  const launcher = runLauncher([
    '--user',
    `auditee-${RUN}`,
    '--target',
    'db-evidence',
    '--source',
    'testsrc',
    '--seconds',
    '120',
  ]);
  desktop = await launcher.sessionId;
  await waitFor('three pieces stored', async () => (await session(desktop)).recording.pieces >= 3);
  const res = await api(`/sessions/${desktop}/terminate`, {
    method: 'POST',
    body: JSON.stringify({ mode: 'terminate', message: MESSAGE }),
  });
  expect(res.status).toBe(200);
  expect((await launcher.exit).code).toBe(3);
  await waitFor('the recording to be sealed', async () => (await session(desktop)).recording.status === 'ready');

  browser = await launchChromium();
  tab = await openConsole(browser);
  await signIn(tab.page, 'admin', adminPassword);
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

describe("a session's page", () => {
  it('shows who terminated the session, why and with what message, and no gaps', async () => {
    const { page } = tab;
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${new URL(page.url()).origin}/#/sessions/${desktop}`);
    await page.getByRole('heading', { name: `auditee-${RUN} on db-evidence` }).waitFor();
    const fact = (term: string) =>
      page.locator('dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');
    expect(await fact('ID').textContent()).toBe(desktop);
    expect(await fact('End reason').textContent()).toBe('Terminated by an administrator');
    await eventually(() => fact('By').textContent()).toContain(
      `terminated session auditee-${RUN}@db-evidence with the message “${MESSAGE}”`,
    );
    expect(await fact('Gaps').textContent()).toBe('none');
    expect(await fact('Recording').textContent()).toBe('on');
    expect(Number((await fact('Pieces received').textContent())?.split(' ')[0])).toBeGreaterThanOrEqual(3);
    await screenshot(page, 'session-page-1280', true);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await screenshot(page, 'session-page-1920', true);
  });

  it('verifies the evidence in the browser, then flags a piece changed in storage', async () => {
    const { page } = tab;
    const panel = page.getByRole('region', { name: 'Evidence' });
    await panel.getByRole('button', { name: 'Verify in this browser' }).click();
    await eventually(() => panel.getByRole('status').textContent()).toBe(
      'Everything checked verifies against the server’s key.',
    );
    const state = (check: string) =>
      panel
        .getByRole('row', { name: new RegExp(`^${check}`) })
        .getByRole('cell')
        .first();
    for (const check of ['Signature', 'Hash chain', 'Pieces', 'Activity'])
      expect(await state(check).textContent()).toBe('Verified');
    await screenshot(page, 'session-evidence-verified');

    const piece = new Uint8Array(await (await api(`/sessions/${desktop}/pieces/1.webm`)).arrayBuffer());
    tamperWithStoredPiece(desktop, piece);
    await panel.getByRole('button', { name: 'Verify again' }).click();
    await eventually(() => panel.getByRole('status').textContent()).toBe(
      'This session’s evidence does not verify: see the checks above.',
    );
    expect(await state('Pieces').textContent()).toBe('FAILED');
    expect(await panel.getByRole('row', { name: /^Pieces/ }).textContent()).toContain(
      'piece 1: its SHA-256 is not the signed one',
    );
    // The signature and the chain still hold: the manifest was not touched, the stored bytes were.
    expect(await state('Signature').textContent()).toBe('Verified');
    await screenshot(page, 'session-evidence-tampered');
  });

  it('shows the gap of a piece that never arrived', async () => {
    const feed = await SshFeed.launch(`gappy-${RUN}`, 'db-gap');
    await feed.connect();
    await feed.header({ version: 2, width: 80, height: 24 });
    await feed.events([[0.5, 'o', '$ ']]);
    feed.skipPiece();
    await feed.events([[3.0, 'o', 'still here\r\n']]);
    await feed.end();
    await waitFor('the terminal recording to be sealed', async () => {
      const status = (await session(feed.sessionId)).recording.status;
      return status !== 'recording' && status !== 'finalizing';
    });
    const { page } = tab;
    await page.goto(`${new URL(page.url()).origin}/#/sessions/${feed.sessionId}`);
    await page.getByRole('heading', { name: `gappy-${RUN} on db-gap` }).waitFor();
    const gaps = page.locator('dt', { hasText: /^Gaps$/ }).locator('xpath=following-sibling::dd[1]');
    await eventually(() => gaps.textContent()).toBe('1 gap(s): piece 2 never arrived');
    await screenshot(page, 'session-page-gap');
  });
});
