import { describe, expect, it } from 'vitest';
import {
  LIVE_HOLE_TOLERANCE,
  missingRanges,
  planCatchUp,
  planLiveSends,
  trimHistory,
} from '../../durable/live-cursor.ts';

const pieces = (...specs: Array<number | `${number}k`>) =>
  specs.map((s) =>
    typeof s === 'number' ? { seq: s, keyframe: false } : { seq: Number(s.slice(0, -1)), keyframe: true },
  );

describe('planLiveSends', () => {
  it('sends the next pieces in sequence and stops at a hole', () => {
    expect(planLiveSends(2, pieces(3, 4, 6))).toEqual({ gap: null, send: [3, 4], sentUpTo: 4 });
  });

  it('ignores pieces the viewer already has', () => {
    expect(planLiveSends(5, pieces(3, 4, 5, 6))).toEqual({ gap: null, send: [6], sentUpTo: 6 });
  });

  it('waits behind a hole while fewer than the tolerance wait', () => {
    const waiting = pieces(...Array.from({ length: LIVE_HOLE_TOLERANCE - 1 }, (_, i) => 4 + i));
    expect(planLiveSends(2, waiting)).toEqual({ gap: null, send: [], sentUpTo: 2 });
  });

  it('skips a hole to the next keyframe once enough pieces wait behind it', () => {
    expect(planLiveSends(2, pieces(4, 5, '6k', 7, 8))).toEqual({ gap: [3, 5], send: [6, 7, 8], sentUpTo: 8 });
  });

  it('does not skip when no keyframe follows the hole', () => {
    expect(planLiveSends(2, pieces(4, 5, 6, 7, 8, 9))).toEqual({ gap: null, send: [], sentUpTo: 2 });
  });
});

describe('planCatchUp', () => {
  it('sends nothing before the init segment exists', () => {
    expect(planCatchUp(pieces(1, 2))).toEqual({ send: [], sentUpTo: -1 });
  });

  it('sends the init segment, then from the newest keyframe to the end of its run', () => {
    expect(planCatchUp(pieces(0, '1k', 2, 3, '4k', 5, 6))).toEqual({ send: [0, 4, 5, 6], sentUpTo: 6 });
  });

  it('stops at a hole after the keyframe', () => {
    expect(planCatchUp(pieces(0, '4k', 5, 7))).toEqual({ send: [0, 4, 5], sentUpTo: 5 });
  });

  it('sends only the init segment when no cluster has a keyframe yet', () => {
    expect(planCatchUp(pieces(0))).toEqual({ send: [0], sentUpTo: 0 });
  });

  it('sends a terminal its whole history, from the first piece, up to the first hole', () => {
    expect(planCatchUp(pieces(0, '1k', '2k', '3k', '5k'), 'start')).toEqual({ send: [0, 1, 2, 3], sentUpTo: 3 });
    expect(planCatchUp(pieces(0), 'start')).toEqual({ send: [0], sentUpTo: 0 });
  });
});

describe('trimHistory', () => {
  const size = (seq: number) => seq * 10;

  it('keeps the header and the newest pieces that fit the budget, and names what it left out', () => {
    expect(trimHistory([0, 1, 2, 3, 4], size, 70)).toEqual({ send: [0, 3, 4], skipped: [1, 2] });
  });

  it('keeps everything that fits', () => {
    expect(trimHistory([0, 1, 2, 3], size, 60)).toEqual({ send: [0, 1, 2, 3], skipped: null });
  });

  it('always keeps the newest piece, even one larger than the budget', () => {
    expect(trimHistory([0, 5, 6], size, 10)).toEqual({ send: [0, 6], skipped: [5, 5] });
  });

  it('sends nothing without a header', () => {
    expect(trimHistory([], size, 10)).toEqual({ send: [], skipped: null });
  });
});

describe('missingRanges', () => {
  it('lists the holes, including a missing start and end', () => {
    expect(missingRanges([1, 2, 5, 6], 8)).toEqual([
      { from: 0, to: 0 },
      { from: 3, to: 4 },
      { from: 7, to: 8 },
    ]);
  });

  it('is empty for a complete run and for nothing expected', () => {
    expect(missingRanges([0, 1, 2], 2)).toEqual([]);
    expect(missingRanges([], -1)).toEqual([]);
  });
});
