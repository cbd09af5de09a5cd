/** The session clock, batching activity events, and uploading the batches to the fake Witness server. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ActivityLog,
  eventBatchUploader,
  interpretBatchReply,
  toSessionClock,
} from '../../agents/launcher/src/activity-log.ts';
import type { CapturedEvent } from '../../agents/launcher/src/capture/capture.ts';
import { firstFrameAt, parseInputStart, sessionMs } from '../../agents/launcher/src/clock.ts';
import { classifyLogLine } from '../../agents/launcher/src/ffmpeg.ts';
import { createLogger } from '../../agents/launcher/src/log.ts';
import { EventSpool, type SpooledBatch } from '../../agents/launcher/src/spool.ts';
import { IngestToken } from '../../agents/launcher/src/token.ts';
import { FakeWitness } from '../support/fake-witness.ts';

const ORIGIN = 1_800_000_000_000;
const focus = (at: number, title = 'xterm'): CapturedEvent => ({ type: 'window.focus', atMs: at, title, app: 'XTerm' });

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger({ verbose: true, write: (line) => lines.push(line) }) };
}

describe('session clock', () => {
  it("reads the first frame's time from ffmpeg's input dump", () => {
    expect(parseInputStart('  Duration: N/A, start: 1795817979.689186, bitrate: 9830 kb/s')).toBe(1795817979.689186);
    expect(parseInputStart('  Duration: N/A, start: 0.000000, bitrate: N/A')).toBe(0);
    expect(parseInputStart('Stream #0:0: Video: rawvideo')).toBeNull();
    const now = 1_795_817_980_000;
    // x11grab: wall clock seconds.
    expect(firstFrameAt(1795817979.689186, now, 5_000_000)).toBe(1_795_817_979_689);
    // A monotonic clock: moved onto the wall clock.
    expect(firstFrameAt(4999.5, now, 5_000_000)).toBe(now - 500);
    // lavfi starts at 0: no clock at all.
    expect(firstFrameAt(0, now, 5_000_000)).toBeNull();
    expect(sessionMs(ORIGIN + 1234.4, ORIGIN)).toBe(1234);
    expect(sessionMs(ORIGIN - 50, ORIGIN)).toBe(0);
  });

  it('tells ffmpeg errors from its info lines', () => {
    expect(classifyLogLine('[info]   Duration: N/A, start: 1.5, bitrate: N/A')).toEqual({
      level: 'info',
      text: '  Duration: N/A, start: 1.5, bitrate: N/A',
    });
    expect(classifyLogLine('[x11grab @ 0x55d31d94bd40] [error] Cannot open display :99, error 1.')).toEqual({
      level: 'error',
      text: '[x11grab @ 0x55d31d94bd40] Cannot open display :99, error 1.',
    });
    expect(classifyLogLine('[warning] Finishing stream 0:0').level).toBe('warning');
    expect(classifyLogLine('an untagged line').level).toBe('error');
  });

  it('moves every time of an event onto the session clock', () => {
    expect(
      toSessionClock({ type: 'keys', atMs: ORIGIN + 1000, endMs: ORIGIN + 2500, text: 'ls' }, ORIGIN),
    ).toMatchObject({ atMs: 1000, endMs: 2500 });
    expect(
      toSessionClock(
        { type: 'process.stop', atMs: ORIGIN + 900, pid: 1, name: 'a', path: '/a', user: 'u', startedAtMs: ORIGIN - 5 },
        ORIGIN,
      ),
    ).toMatchObject({ atMs: 900, startedAtMs: 0 });
    // Before the first frame is 0; an end before the start is the start.
    expect(toSessionClock({ type: 'keys', atMs: ORIGIN - 300, endMs: ORIGIN - 200, text: 'x' }, ORIGIN)).toMatchObject({
      atMs: 0,
      endMs: 0,
    });
  });
});

describe('activity log', () => {
  let dir: string;
  let spool: EventSpool;
  let uploaded: SpooledBatch[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'witness-events-'));
    spool = new EventSpool(dir);
    uploaded = [];
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });
  const body = (batch: number) =>
    JSON.parse(readFileSync(join(spool.dir, `${String(batch).padStart(10, '0')}.json`), 'utf8'));

  it('holds events until the first frame, then spools batches of at most N events', () => {
    const { log } = logger();
    const activity = new ActivityLog({ spool, upload: (b) => uploaded.push(b), log, atEvents: 3 });
    activity.add(focus(ORIGIN + 100));
    activity.add(focus(ORIGIN + 200));
    expect(uploaded).toEqual([]);
    expect(existsSync(spool.dir)).toBe(false);
    activity.setOrigin(ORIGIN);
    activity.add(focus(ORIGIN + 300));
    expect(uploaded).toEqual([{ batch: 0, events: 3, size: expect.any(Number) }]);
    expect(body(0).events.map((e: { atMs: number }) => e.atMs)).toEqual([100, 200, 300]);
    activity.add(focus(ORIGIN + 400));
    activity.close();
    activity.add(focus(ORIGIN + 500)); // after close: ignored
    expect(uploaded.map((b) => [b.batch, b.events])).toEqual([
      [0, 3],
      [1, 1],
    ]);
    expect(spool.list()).toEqual([0, 1]);
    expect(activity.events).toBe(4);
  });

  it('holds events past what memory holds on disk, in order, until the first frame', () => {
    const { log, lines } = logger();
    const activity = new ActivityLog({ spool, upload: (b) => uploaded.push(b), log, atEvents: 4, earlyInMemory: 3 });
    for (let i = 1; i <= 10; i++) activity.add(focus(ORIGIN + i * 10, `window ${i}`));
    expect(uploaded).toEqual([]);
    expect(existsSync(spool.earlyFile)).toBe(true);
    expect(lines.join('\n')).toMatch(
      /3 activity events came before the first frame; they and later ones wait in .*early\.jsonl/,
    );
    activity.setOrigin(ORIGIN);
    activity.close();
    expect(existsSync(spool.earlyFile)).toBe(false);
    const sent = uploaded.flatMap((b) => body(b.batch).events.map((e: { title: string }) => e.title));
    expect(sent).toEqual(Array.from({ length: 10 }, (_, i) => `window ${i + 1}`));
    expect(activity.events).toBe(10);
  });

  it('keeps the events of a recording that never started on disk, and says where', () => {
    const { log, lines } = logger();
    const activity = new ActivityLog({ spool, upload: (b) => uploaded.push(b), log, earlyInMemory: 2 });
    for (let i = 1; i <= 5; i++) activity.add(focus(ORIGIN + i, `w${i}`));
    activity.close();
    expect(uploaded).toEqual([]);
    const kept = readFileSync(spool.earlyFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).title);
    expect(kept).toEqual(['w1', 'w2', 'w3', 'w4', 'w5']);
    expect(lines.join('\n')).toMatch(/5 activity event\(s\) were captured but the recording never started: kept in/);
    expect(spool.removeIfEmpty()).toBe(false);
  });

  it('cuts a batch 2 s after its first event, and by size', () => {
    vi.useFakeTimers();
    const { log } = logger();
    const activity = new ActivityLog({ spool, upload: (b) => uploaded.push(b), log, maxBytes: 4_000 });
    activity.setOrigin(ORIGIN);
    activity.add(focus(ORIGIN + 1));
    vi.advanceTimersByTime(1_999);
    activity.add(focus(ORIGIN + 2));
    expect(uploaded).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(uploaded.map((b) => b.events)).toEqual([2]);
    // Big events: each batch stays under the byte limit.
    for (let i = 0; i < 6; i++) activity.add({ type: 'keys', atMs: ORIGIN, endMs: ORIGIN, text: 'k'.repeat(1_000) });
    activity.close();
    expect(uploaded.map((b) => b.events)).toEqual([2, 2, 2, 2]);
    for (const batch of uploaded) expect(batch.size).toBeLessThanOrEqual(4_000);
  });

  it('drops events that break the protocol, loudly', () => {
    const { log, lines } = logger();
    const activity = new ActivityLog({ spool, upload: (b) => uploaded.push(b), log });
    activity.setOrigin(ORIGIN);
    activity.add({ type: 'window.focus', atMs: ORIGIN, title: 'x'.repeat(5_000), app: 'a' });
    activity.add(focus(ORIGIN + 1));
    activity.close();
    expect(lines.join('\n')).toMatch(/error: dropping an invalid window.focus event \(title:/);
    expect(uploaded.map((b) => b.events)).toEqual([1]);
  });

  it('reads batch replies', () => {
    const batch = { batch: 4, events: 3, size: 100 };
    const ack = (over: object) => JSON.stringify({ batch: 4, stored: 3, rejected: [], duplicate: false, ...over });
    const err = (code: string) => JSON.stringify({ error: { code, message: code } });
    expect(interpretBatchReply(batch, 201, ack({}))).toEqual({ kind: 'stored', duplicate: false });
    expect(interpretBatchReply(batch, 200, ack({ duplicate: true }))).toEqual({ kind: 'stored', duplicate: true });
    expect(interpretBatchReply(batch, 201, ack({ stored: 2, rejected: [{ index: 1, reason: 'bad' }] }))).toMatchObject({
      kind: 'stored',
      problem: 'the server rejected 1 of 3 event(s): #1: bad',
    });
    expect(interpretBatchReply(batch, 201, ack({ batch: 5 })).kind).toBe('refused');
    expect(interpretBatchReply(batch, 201, 'nope').kind).toBe('retry');
    expect(interpretBatchReply(batch, 409, err('batch_conflict')).kind).toBe('refused');
    expect(interpretBatchReply(batch, 409, err('recording_sealed')).kind).toBe('refused');
    expect(interpretBatchReply(batch, 401, err('token_expired')).kind).toBe('token');
    expect(interpretBatchReply(batch, 503, '').kind).toBe('retry');
    expect(interpretBatchReply(batch, 429, '').kind).toBe('retry');
    expect(interpretBatchReply(batch, 400, err('invalid_batch')).kind).toBe('refused');
  });
});

describe('activity batch uploads', () => {
  let dir: string;
  let server: FakeWitness;
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries, renews the token, reports refused events and keeps conflicting batches on disk', async () => {
    dir = mkdtempSync(join(tmpdir(), 'witness-events-'));
    server = new FakeWitness({
      failFirstBatchPostOf: [1],
      expireTokenAtBatch: 2,
      rejectEvent: (event) => (event.type === 'window.focus' && event.title === 'refuse me' ? 'not wanted' : null),
    });
    await server.start();
    const session = server.createSession('alice', 'db-01', 'desktop');
    const issued = server.issueToken(session);
    const token = new IngestToken(issued.token, issued.expiresAt);
    const spool = new EventSpool(dir);
    const { log, lines } = logger();
    const uploader = eventBatchUploader({
      server: server.url,
      session: session.id,
      token,
      spool,
      log,
      // What the control socket does: a `renew` answered by a `token` message.
      onTokenRejected: () => {
        const fresh = server.issueToken(session);
        token.replace(fresh.token, fresh.expiresAt);
      },
      backoff: { baseMs: 20, capMs: 100 },
    });
    const activity = new ActivityLog({ spool, upload: (b) => uploader.add(b), log, atEvents: 2 });
    activity.setOrigin(ORIGIN);
    // Batch 3 is already stored with other bytes (an earlier run of the session).
    const conflicting = await fetch(`${server.url}/ingest/v1/sessions/${session.id}/events/3`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [focus(1, 'earlier')] }),
    });
    expect(conflicting.status).toBe(201);

    for (let i = 0; i < 8; i++) activity.add(focus(ORIGIN + i * 10, i === 1 ? 'refuse me' : `window ${i}`));
    activity.close();
    expect(await uploader.whenIdle(Date.now() + 10_000)).toBe(true);
    uploader.stop();

    expect([...session.batches.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(session.batchPosts.filter((p) => p.batch === 1).map((p) => p.status)).toEqual([503, 201]);
    const [expired, retried] = session.batchPosts.filter((p) => p.batch === 2);
    expect([expired?.status, retried?.status]).toEqual([401, 201]);
    expect(retried?.token).not.toBe(expired?.token);
    expect(session.batchPosts.filter((p) => p.batch === 3).map((p) => p.status)).toEqual([201, 409]);
    // Stored: everything but the refused event and the conflicting batch.
    expect(server.events(session).map((e) => (e.type === 'window.focus' ? e.title : ''))).toEqual([
      'window 0',
      'window 2',
      'window 3',
      'window 4',
      'window 5',
      'earlier',
    ]);
    const log_ = lines.join('\n');
    expect(log_).toContain(
      'error: event batch 0: the server rejected 1 of 2 event(s): #1: not wanted (types: window.focus)',
    );
    expect(log_).toMatch(/error: event batch 3 was refused and stays in .*events: HTTP 409 batch_conflict/);
    expect([...uploader.refused.keys()]).toEqual([3]);
    expect(spool.list()).toEqual([3]);
    expect(uploader.stored).toBe(3);
  });
});
