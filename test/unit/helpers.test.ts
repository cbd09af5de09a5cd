import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActivityWatcher } from '../../agents/launcher/src/activity.ts';
import { clusterTimeLimitMs, ffmpegArgs, inputArgs, keyframeInterval } from '../../agents/launcher/src/ffmpeg.ts';
import { dialogCommands } from '../../agents/launcher/src/notify.ts';
import { formatSeqs } from '../../agents/launcher/src/session.ts';
import { Spool } from '../../agents/launcher/src/spool.ts';
import { IngestToken } from '../../agents/launcher/src/token.ts';
import { interpret } from '../../agents/launcher/src/uploader.ts';

describe('ffmpeg command lines', () => {
  it('cuts about one cluster per second and a keyframe every ~30 s', () => {
    expect(clusterTimeLimitMs(1)).toBe(1);
    expect(clusterTimeLimitMs(5)).toBe(800);
    expect(clusterTimeLimitMs(0.5)).toBe(1);
    expect(keyframeInterval(1)).toBe(30);
    expect(keyframeInterval(5)).toBe(150);
    expect(keyframeInterval(0.01)).toBe(1);
  });

  it('has an input for every source', () => {
    const settings = { display: undefined, fps: 2, codec: 'vp9' as const };
    expect(inputArgs({ ...settings, source: 'x11' }, { DISPLAY: ':5' })).toEqual([
      '-f',
      'x11grab',
      '-framerate',
      '2',
      '-draw_mouse',
      '1',
      '-i',
      ':5',
    ]);
    expect(inputArgs({ ...settings, source: 'x11', display: ':77' }, {})).toContain(':77');
    expect(inputArgs({ ...settings, source: 'testsrc' })).toEqual([
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=2',
    ]);
    expect(inputArgs({ ...settings, source: 'gdigrab' })).toEqual([
      '-f',
      'gdigrab',
      '-framerate',
      '2',
      '-draw_mouse',
      '1',
      '-i',
      'desktop',
    ]);
    expect(inputArgs({ ...settings, source: 'ddagrab', display: '1' })).toEqual([
      '-f',
      'lavfi',
      '-i',
      'ddagrab=output_idx=1:framerate=2:draw_mouse=1',
    ]);
    expect(inputArgs({ ...settings, source: 'avfoundation' })).toContain('Capture screen 0:none');
  });

  it('writes live WebM with 4:2:0 video, no lookahead and no audio to stdout', () => {
    const args = ffmpegArgs({ source: 'ddagrab', display: undefined, fps: 1, codec: 'vp8' });
    expect(args.join(' ')).toContain('-vf hwdownload,format=bgra,format=yuv420p -c:v libvpx');
    expect(args.join(' ')).toContain('-lag-in-frames 0 -g 30');
    expect(args.slice(-10)).toEqual([
      '-an',
      '-f',
      'webm',
      '-live',
      '1',
      '-cluster_time_limit',
      '1',
      '-cluster_size_limit',
      '4194304',
      'pipe:1',
    ]);
    expect(ffmpegArgs({ source: 'x11', display: ':1', fps: 1, codec: 'vp9' }).join(' ')).toContain('-c:v libvpx-vp9');
  });
});

describe('IngestToken', () => {
  it('asks once to learn an unknown expiry', () => {
    let now = 0;
    const token = new IngestToken('a', null, () => now);
    expect(token.shouldRenew()).toBe(true);
    token.renewRequested();
    expect(token.shouldRenew()).toBe(false);
    now = 25_000; // no answer: ask again
    expect(token.shouldRenew()).toBe(true);
  });

  it('renews when less than a third of the life remains', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const token = new IngestToken('a', '2030-01-01T00:15:00Z', () => now);
    now += 9 * 60_000;
    expect(token.shouldRenew()).toBe(false);
    now += 60_001;
    expect(token.shouldRenew()).toBe(true);
    token.replace('b', '2030-01-01T00:40:00Z');
    expect(token.value).toBe('b');
    expect(token.shouldRenew()).toBe(false);
  });

  it('renews at once after a refusal of the current token only', async () => {
    const token = new IngestToken('a', new Date(Date.now() + 3_600_000).toISOString());
    token.rejected('old');
    expect(token.shouldRenew()).toBe(false);
    token.rejected('a');
    expect(token.shouldRenew()).toBe(true);
    const waiting = token.waitForReplacement('a', 5_000);
    token.replace('b', new Date(Date.now() + 3_600_000).toISOString());
    await waiting;
    expect(token.shouldRenew()).toBe(false);
    await token.waitForReplacement('a', 5_000); // already replaced: resolves at once
  });
});

describe('interpret (PUT replies)', () => {
  const piece = { seq: 4, size: 10, sha256: 'ab'.repeat(32), keyframe: false, startMs: 0, endMs: 1 };
  const err = (code: string) => JSON.stringify({ error: { code, message: code } });
  it('treats a matching acknowledgement as stored', () => {
    expect(
      interpret(piece, 201, JSON.stringify({ seq: 4, size: 10, sha256: 'AB'.repeat(32), duplicate: false })),
    ).toEqual({ kind: 'stored', duplicate: false });
    expect(interpret(piece, 200, JSON.stringify({ seq: 4, size: 10, sha256: piece.sha256, duplicate: true }))).toEqual({
      kind: 'stored',
      duplicate: true,
    });
  });
  it('refuses an acknowledgement of other bytes', () => {
    expect(
      interpret(piece, 201, JSON.stringify({ seq: 4, size: 10, sha256: 'cd'.repeat(32), duplicate: false })).kind,
    ).toBe('refused');
    expect(
      interpret(piece, 201, JSON.stringify({ seq: 5, size: 10, sha256: piece.sha256, duplicate: false })).kind,
    ).toBe('refused');
  });
  it('maps error replies', () => {
    expect(interpret(piece, 409, err('seq_conflict')).kind).toBe('refused');
    expect(interpret(piece, 409, err('recording_sealed')).kind).toBe('refused');
    expect(interpret(piece, 409, err('upload_in_progress'))).toMatchObject({ kind: 'retry', onlyThisSeq: true });
    expect(interpret(piece, 401, err('token_expired')).kind).toBe('token');
    expect(interpret(piece, 401, err('invalid_token')).kind).toBe('token');
    expect(interpret(piece, 413, err('too_large')).kind).toBe('refused');
    expect(interpret(piece, 422, err('invalid_piece')).kind).toBe('refused');
    expect(interpret(piece, 400, 'oops').kind).toBe('refused');
    expect(interpret(piece, 503, '<html>').kind).toBe('retry');
    expect(interpret(piece, 500, err('internal')).kind).toBe('retry');
    expect(interpret(piece, 429, '').kind).toBe('retry');
    expect(interpret(piece, 201, 'not json').kind).toBe('retry');
  });
});

describe('Spool', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps bytes and metadata until removed, and lists in seq order', () => {
    dir = mkdtempSync(join(tmpdir(), 'witness-spool-'));
    const spool = new Spool(join(dir, 'sess'));
    for (const seq of [2, 0, 11]) {
      spool.write({ seq, bytes: Uint8Array.from([seq, 1, 2]), keyframe: seq === 11, startMs: seq, endMs: seq + 1 });
    }
    expect(spool.list().map((p) => p.seq)).toEqual([0, 2, 11]);
    expect(spool.list()[2]).toMatchObject({ size: 3, keyframe: true, startMs: 11, endMs: 12 });
    expect([...spool.read(2)]).toEqual([2, 1, 2]);
    expect(spool.removeIfEmpty()).toBe(false);
    for (const seq of [0, 2, 11]) spool.remove(seq);
    expect(spool.list()).toEqual([]);
    expect(spool.removeIfEmpty()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses to list a spool whose metadata it cannot read, naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'witness-spool-'));
    const spool = new Spool(join(dir, 'sess'));
    spool.write({ seq: 0, bytes: Uint8Array.from([1]), keyframe: true, startMs: 0, endMs: 1 });
    writeFileSync(join(spool.dir, '0000000001.json'), '{"seq": 1, "size"');
    expect(() => spool.list()).toThrow(/cannot read the spooled piece metadata .*0000000001\.json/);
  });
});

describe('ActivityWatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('reports input seen by xprintidle at most once per gap', async () => {
    vi.useFakeTimers();
    const idle = [60_000, 65_000, 1_200, 300, 7_000, 100];
    const reports: number[] = [];
    const watcher = new ActivityWatcher({
      pollMs: 5_000,
      minGapMs: 10_000,
      readIdleMs: async () => idle.shift() ?? null,
      onActivity: () => reports.push(Date.now()),
    });
    const start = Date.now();
    await watcher.poll(); // 60 s idle: nothing
    await watcher.poll(); // still idle: nothing
    expect(reports).toEqual([]);
    await watcher.poll(); // idle dropped: input
    expect(reports).toEqual([start]);
    vi.advanceTimersByTime(5_000);
    await watcher.poll(); // input again, within the gap: held back
    expect(reports).toHaveLength(1);
    vi.advanceTimersByTime(5_000); // the held report goes out when the gap has passed
    expect(reports).toEqual([start, start + 10_000]);
    await watcher.poll(); // 7 s idle, growing: no input
    vi.advanceTimersByTime(20_000);
    expect(reports).toHaveLength(2);
    await watcher.poll();
    expect(reports).toHaveLength(3);
    watcher.stop();
  });
});

describe('small helpers', () => {
  it('formats seq lists as ranges', () => {
    expect(formatSeqs([7, 1, 2, 3, 9, 10])).toBe('1-3, 7, 9-10');
    expect(formatSeqs([])).toBe('');
  });
  it('offers dialog programs per platform', () => {
    expect(dialogCommands('hi', 'linux').map((c) => c[0])).toEqual(['zenity', 'notify-send', 'xmessage']);
    expect(dialogCommands('say "hi"', 'darwin')[0]?.[2]).toContain('display dialog "say \\"hi\\""');
  });
});
