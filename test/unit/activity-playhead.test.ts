/** The console's activity helpers: the row at the playhead, a map bucket's summary, what runs at a moment. */
import { describe, expect, it } from 'vitest';
import {
  type ActivityItem,
  activityTimeline,
  atPlayhead,
  bucketSummary,
  playheadIndex,
  typeCounts,
} from '../../client/src/activity.ts';

let nextId = 1;
function event(fields: Partial<ActivityItem> & Pick<ActivityItem, 'type' | 'offsetMs'>): ActivityItem {
  return {
    id: nextId++,
    endMs: null,
    text: null,
    app: null,
    title: null,
    name: null,
    path: null,
    user: null,
    pid: null,
    ppid: null,
    redacted: null,
    ...fields,
  };
}

const session: ActivityItem[] = [
  event({ type: 'window.focus', offsetMs: 100, title: 'root@db: ~', app: 'xterm', pid: 10 }),
  event({ type: 'keys', offsetMs: 1000, endMs: 1500, text: 'vim notes<Enter>' }),
  event({ type: 'process.start', offsetMs: 1600, pid: 20, name: 'vim', text: 'vim notes' }),
  event({ type: 'process.start', offsetMs: 1700, pid: 21, name: 'git', text: 'git status' }),
  event({ type: 'process.stop', offsetMs: 1800, pid: 21, name: 'git' }),
  event({ type: 'window.focus', offsetMs: 2000, title: 'Firefox', app: 'firefox', pid: 30 }),
  event({ type: 'process.start', offsetMs: 2000, pid: 22, name: 'git', text: 'git log' }),
  event({ type: 'process.stop', offsetMs: 3000, pid: 20, name: 'vim' }),
  event({ type: 'ssh.command', offsetMs: 3500, text: 'uptime' }),
];

describe('playheadIndex', () => {
  it('finds the last event at or before the playhead', () => {
    expect(playheadIndex(session, 0)).toBe(-1);
    expect(playheadIndex(session, 99)).toBe(-1);
    expect(playheadIndex(session, 100)).toBe(0);
    expect(playheadIndex(session, 1699)).toBe(2);
    // Two events at the same time: the later of them.
    expect(playheadIndex(session, 2000)).toBe(6);
    expect(playheadIndex(session, 10_000)).toBe(8);
    expect(playheadIndex([], 5)).toBe(-1);
  });

  it('agrees with a linear scan over 200,000 events', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => ({ offsetMs: Math.floor(i * 144.3) }));
    for (const ms of [0, 1, 144, 145, 1_000_000, 28_859_856, 28_860_000, 40_000_000]) {
      let expected = -1;
      for (let i = 0; i < many.length && (many[i] as { offsetMs: number }).offsetMs <= ms; i++) expected = i;
      expect(playheadIndex(many, ms)).toBe(expected);
    }
  });
});

describe('typeCounts', () => {
  it('counts each type present, in the console’s order of types', () => {
    expect(typeCounts(session)).toEqual([
      { type: 'keys', count: 1 },
      { type: 'process.start', count: 3 },
      { type: 'process.stop', count: 2 },
      { type: 'window.focus', count: 2 },
      { type: 'ssh.command', count: 1 },
    ]);
  });
});

describe('bucketSummary', () => {
  it('counts the events that start in the bucket, by type, with the top programs and windows', () => {
    const found = bucketSummary(session, 1600, 2001);
    expect(found.total).toBe(5);
    expect(found.counts).toEqual([
      { type: 'process.start', count: 3 },
      { type: 'process.stop', count: 1 },
      { type: 'window.focus', count: 1 },
    ]);
    expect(found.topPrograms).toEqual([
      { name: 'git', count: 2 },
      { name: 'vim', count: 1 },
    ]);
    expect(found.topWindows).toEqual([{ name: 'Firefox (firefox)', count: 1 }]);
  });

  it('leaves out events at its end and keeps those at its start', () => {
    expect(bucketSummary(session, 1000, 1600).total).toBe(1);
    expect(bucketSummary(session, 4000, 5000)).toMatchObject({ total: 0, counts: [], topPrograms: [] });
  });

  it('keeps the three most seen, ties by name', () => {
    const names = ['d', 'c', 'b', 'a', 'a', 'b', 'e'].map((name, i) =>
      event({ type: 'process.start', offsetMs: i, pid: i, name }),
    );
    expect(bucketSummary(names, 0, 100).topPrograms.map((p) => p.name)).toEqual(['a', 'b', 'c']);
  });
});

describe('atPlayhead', () => {
  const timeline = activityTimeline(session);
  const names = (ms: number) => atPlayhead(timeline, ms).programs.map((p) => p.name);

  it('names the window last focused at or before the playhead', () => {
    expect(atPlayhead(timeline, 50).window).toBeNull();
    expect(atPlayhead(timeline, 1999).window?.title).toBe('root@db: ~');
    expect(atPlayhead(timeline, 2000).window?.title).toBe('Firefox');
  });

  it('lists the programs started and not yet ended, newest first', () => {
    expect(names(1599)).toEqual([]);
    expect(names(1750)).toEqual(['git', 'vim']);
    expect(names(1800)).toEqual(['vim']);
    expect(names(2500)).toEqual(['git', 'vim']);
    expect(names(3000)).toEqual(['git']);
  });

  it('gives the last keys or command', () => {
    expect(atPlayhead(timeline, 999).input).toBeNull();
    expect(atPlayhead(timeline, 3499).input?.text).toBe('vim notes<Enter>');
    expect(atPlayhead(timeline, 3500).input?.text).toBe('uptime');
  });
});
