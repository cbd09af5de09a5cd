/**
 * The Sessions page's filters, search and paging in Debian's Chromium, over sessions made through the real
 * launch and ingest endpoints: a text search finds the session a word was typed in, with its snippet, and
 * the others go; the "search in" boxes, the user filter and the date range narrow it; the filters live in
 * the address, survive a reload and are set by an address opened as the page appears; "Load more" pages by
 * cursor; a match opens the recording at its moment, an address for another moment moves it there, and
 * "Back to sessions" returns to the search; recorded markup in a snippet stays text.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleTab,
  eventually,
  launchChromium,
  localDateTime,
  openConsole,
  screenshot,
  signIn,
} from './console.ts';
import { adminPassword, api, baseUrl, session } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';
import { SshFeed } from './ssh-feed.ts';

/** Unique to this run, so the sessions of earlier tests (and runs) never match. */
const RUN = Date.now().toString(36);
const TARGET = `search-${RUN}.example`;
const ALICE = `alice-${RUN}`;
const BOB = `bob-${RUN}`;
const CAROL = `carol-${RUN}`;
/** Typed only in Alice's session, as an SSH command. */
const WORD = `zebrafruit${RUN}`;
/** In Alice's session (SSH) and Bob's (keystrokes). */
const COMMON = `sharedword${RUN}`;
const MARKER = `xsswitness${RUN}`;
const HOSTILE = '<img src=x onerror="window.__xss=1">';

let browser: Browser;
let tab: ConsoleTab;
let alice: SshFeed;

/** A session launched through the API and left pending, with one activity batch posted by its ingest token. */
async function pendingWithActivity(user: string, events: unknown[]): Promise<string> {
  const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user, target: TARGET }) });
  expect(res.status).toBe(201);
  const { sessionId, token } = (await res.json()) as { sessionId: string; token: string };
  if (events.length > 0) {
    const posted = await fetch(`${baseUrl}/ingest/v1/sessions/${sessionId}/events/0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(201);
    expect(((await posted.json()) as { rejected: unknown[] }).rejected).toEqual([]);
  }
  return sessionId;
}

/** The user names in the list's rows, in order; null while the list is being asked for (old rows, dimmed). */
async function listedUsers(page: Page): Promise<string[] | null> {
  if ((await page.locator('.sessions-results[aria-busy="true"]').count()) > 0) return null;
  return page.locator('table.sessions tbody tr:not(.match-row) td:first-child').allTextContents();
}

/** The page's address after `#`, decoded. */
function addressQuery(page: Page): URLSearchParams {
  return new URLSearchParams(new URL(page.url()).hash.split('?')[1] ?? '');
}

beforeAll(async () => {
  // Alice: an SSH session fed as the proxy feeds it, ended, so its recording is sealed and playable.
  alice = await SshFeed.launch(ALICE, TARGET);
  await alice.connect();
  await alice.header({ version: 2, width: 80, height: 24, title: `${ALICE}@${TARGET}` });
  await alice.events([
    [0.5, 'o', '$ '],
    [2.0, 'i', `deploy ${WORD}\r`],
    [2.1, 'o', `deploy ${WORD}\r\ndone\r\n$ `],
    [6.0, 'o', 'bye\r\n'],
  ]);
  await alice.activity([
    { type: 'ssh.command', atMs: 2000, text: `deploy ${WORD} ${COMMON}` },
    { type: 'ssh.input', atMs: 4200, endMs: 4300, text: `echo ${MARKER} ${HOSTILE}`, redacted: false },
  ]);
  await alice.end();
  await waitFor('the cast to be sealed', async () => (await session(alice.sessionId)).recording.status === 'ready');
  // Bob typed the common word; Carol did nothing. Launched after Alice: newer, so listed above her.
  await pendingWithActivity(BOB, [
    { type: 'keys', atMs: 1000, endMs: 1500, text: `${COMMON} ok`, window: { title: 'Terminal', app: 'xterm' } },
  ]);
  await pendingWithActivity(CAROL, []);

  browser = await launchChromium();
  tab = await openConsole(browser);
  await signIn(tab.page, 'admin', adminPassword);
}, 120_000);

afterAll(async () => {
  alice?.close();
  // Nothing on the pages ran as markup, broke the CSP or opened a dialog.
  expect(await tab?.page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
  expect(tab?.problems).toEqual([]);
  expect(tab?.dialogs).toEqual([]);
  await browser?.close();
});

describe('the Sessions page', () => {
  it('pages by cursor: "Load more" adds the next page, under the first', async () => {
    const { page } = tab;
    // An address with filters (here a page of 2) sets them: a shared or bookmarked search.
    await page.goto(`${baseUrl}/#/sessions?status=all&target=${encodeURIComponent(TARGET)}&limit=2`);
    await page.getByRole('button', { name: 'All', exact: true, pressed: true }).waitFor();
    expect(await page.getByLabel('Target', { exact: true }).inputValue()).toBe(TARGET);
    await eventually(() => listedUsers(page)).toEqual([CAROL, BOB]);
    const more = page.getByRole('button', { name: 'Load more sessions' });
    await more.click();
    await eventually(() => listedUsers(page)).toEqual([CAROL, BOB, ALICE]);
    // Three sessions, pages of two: the second page is the last.
    await eventually(() => more.count()).toBe(0);
    // The ended SSH session shows its recording as a labelled badge, with its actions.
    const row = page.getByRole('row', { name: new RegExp(ALICE) }).first();
    expect(await row.locator('.badge').textContent()).toBe('Ready');
    await row.getByRole('link', { name: 'Watch recording' }).waitFor();
    // The refresh (every 5 s) asks for the first page again and keeps the page loaded after it: every list
    // the table shows from now on, until the refresh's answer has been rendered, still has all three.
    await page.evaluate(() => {
      const shown: string[][] = [];
      (window as { __shownLists?: string[][] }).__shownLists = shown;
      const table = document.querySelector('.sessions-results') as HTMLElement;
      new MutationObserver(() => {
        const cells = table.querySelectorAll('table.sessions tbody tr:not(.match-row) td:first-child');
        shown.push(Array.from(cells, (cell) => cell.textContent ?? ''));
      }).observe(table, { subtree: true, childList: true, characterData: true });
    });
    const refresh = await page.waitForResponse(
      (r) => /\/api\/v1\/sessions\?/.test(r.url()) && !new URL(r.url()).searchParams.has('cursor'),
      { timeout: 15_000 },
    );
    expect(refresh.status()).toBe(200);
    await refresh.finished();
    // Two frames: the page has handled the answer and rendered what it made of it.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    expect(await listedUsers(page)).toEqual([CAROL, BOB, ALICE]);
    const shown = await page.evaluate(() => (window as { __shownLists?: string[][] }).__shownLists ?? []);
    expect(shown.filter((list) => list.length > 0 && list.join() !== [CAROL, BOB, ALICE].join())).toEqual([]);
  });

  it('an address opened the moment the page appears sets its filters', async () => {
    // A second tab of the signed-in console, whose address changes to a filtered one in the same task that
    // shows the page: before the page's effects have run (they wait for a frame), as a link clicked or
    // pasted just after sign-in on a busy machine does. It was missed, then overwritten with no filters.
    const page = await tab.context.newPage();
    const filtered = `#/sessions?status=all&target=${encodeURIComponent(TARGET)}&limit=2`;
    await page.addInitScript((hash) => {
      new MutationObserver((_, observer) => {
        if (!document.body?.textContent?.includes('Signed in as')) return;
        observer.disconnect();
        location.hash = hash;
      }).observe(document, { childList: true, subtree: true, characterData: true });
    }, filtered);
    await page.goto(baseUrl);
    await page.getByRole('button', { name: 'All', exact: true, pressed: true }).waitFor({ timeout: 10_000 });
    expect(await page.getByLabel('Target', { exact: true }).inputValue()).toBe(TARGET);
    await eventually(() => listedUsers(page)).toEqual([CAROL, BOB]);
    expect(await page.evaluate(() => location.hash)).toBe(filtered);
    await page.close();
  });

  it('finds the session a word was typed in, with its snippet; the search in boxes and user filter narrow it', async () => {
    const { page } = tab;
    const query = page.getByLabel('Search activity');
    await query.fill(WORD);
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    const matches = page.getByRole('list', { name: 'Search matches' });
    await eventually(() => matches.getByRole('listitem').count()).toBe(1);
    const match = matches.getByRole('listitem').first();
    expect(await match.locator('.match-type').textContent()).toBe('SSH command');
    expect(await match.locator('.match-at').textContent()).toBe('0:02.0');
    expect(await match.locator('mark').textContent()).toBe(WORD);
    expect(await match.locator('.snippet').textContent()).toBe(`deploy ${WORD} ${COMMON}`);
    // Typing kept its focus through the search (and the refresh).
    expect(await query.evaluate((input) => input === document.activeElement)).toBe(true);

    // The search is in the address, and a reload keeps it.
    await eventually(async () => addressQuery(page).get('q')).toBe(WORD);
    await page.reload();
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    expect(await page.getByLabel('Search activity').inputValue()).toBe(WORD);

    // Not searching SSH client data, the word is found nowhere.
    const ssh = page.getByRole('checkbox', { name: 'SSH client data' });
    await ssh.uncheck();
    await page.getByText(`No sessions match “${WORD}” with these filters.`).waitFor();
    expect(addressQuery(page).get('in')).toBe('keystrokes,apps,processes,windows');
    await ssh.check();
    await eventually(() => listedUsers(page)).toEqual([ALICE]);

    // A word in two sessions (Bob typed it, Alice ran it); the user filter keeps one.
    await page.getByLabel('Search activity').fill(COMMON);
    await eventually(() => listedUsers(page)).toEqual([BOB, ALICE]);
    const bobMatch = page.getByRole('list', { name: 'Search matches' }).first().getByRole('listitem');
    expect(await bobMatch.locator('.match-type').textContent()).toBe('Keystrokes');
    await screenshot(page, 'sessions-search');
    await page.getByLabel('User', { exact: true }).fill(ALICE);
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    expect(addressQuery(page).get('user')).toBe(ALICE);

    // A date range that ends before these sessions began finds none of them.
    await page.getByLabel('To', { exact: true }).fill(localDateTime(new Date(Date.now() - 3_600_000)));
    await page.getByText(/^No sessions match/).waitFor();
    expect(addressQuery(page).get('to')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    await page.getByLabel('To', { exact: true }).fill('');
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
  });

  it('shows recorded markup in a snippet as text, and a match opens the recording at its moment', async () => {
    const { page } = tab;
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Search activity').fill(MARKER);
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    const match = page.getByRole('list', { name: 'Search matches' }).getByRole('listitem');
    expect(await match.locator('.match-type').textContent()).toBe('SSH input');
    expect(await match.locator('.snippet').textContent()).toBe(`echo ${MARKER} ${HOSTILE}`);
    expect(await page.locator('.matches img').count()).toBe(0);
    await screenshot(page, 'sessions-search-hostile');

    await match.getByRole('link').click();
    await page.getByRole('heading', { name: `Terminal recording: ${ALICE} on ${TARGET}` }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/sessions/${alice.sessionId}/recording?at=4200`);
    // The player moved to the match: the timeline reads 4.2 s.
    await eventually(async () => Number(await page.getByRole('slider', { name: 'Timeline' }).inputValue())).toBe(4200);
    await screenshot(page, 'sessions-search-opened');

    // An address for another moment of the open recording moves the player there, and Back moves it back.
    await page.goto(`${baseUrl}/#/sessions/${alice.sessionId}/recording?at=1500`);
    await eventually(async () => Number(await page.getByRole('slider', { name: 'Timeline' }).inputValue())).toBe(1500);
    await page.goBack();
    await eventually(async () => Number(await page.getByRole('slider', { name: 'Timeline' }).inputValue())).toBe(4200);

    // Back to the list: the search is still there.
    await page.goBack();
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    expect(await page.getByLabel('Search activity').inputValue()).toBe(MARKER);

    // So it is through the page's own "Back to sessions" link, which is not the browser's history.
    await page.getByRole('list', { name: 'Search matches' }).getByRole('link').first().click();
    await page.getByRole('heading', { name: `Terminal recording: ${ALICE} on ${TARGET}` }).waitFor();
    await page.getByRole('link', { name: 'Back to sessions' }).click();
    await eventually(() => listedUsers(page)).toEqual([ALICE]);
    expect(await page.getByLabel('Search activity').inputValue()).toBe(MARKER);
    expect(addressQuery(page).get('q')).toBe(MARKER);
  });
});
