import { describe, expect, it } from 'vitest';
import { ACTIVITY_SAVE_EVERY_MS, ActivitySaves } from '../../durable/activity-saves.ts';
import {
  FRAME_LIMITS,
  type FrameBudget,
  type FrameLimit,
  frameBytes,
  freshBudget,
  spendFrame,
} from '../../protocol/frame-budget.ts';

const limit: FrameLimit = { burst: 3, perMinute: 60, maxFrameBytes: 100 };

/** Sends `count` frames of `bytes` at `now`; returns the verdicts and the budget after them. */
function send(budget: FrameBudget, count: number, now: number, bytes = 10) {
  const verdicts: string[] = [];
  let current = budget;
  for (let i = 0; i < count; i++) {
    const spent = spendFrame(current, limit, bytes, now);
    verdicts.push(spent.verdict);
    current = spent.budget;
  }
  return { verdicts, budget: current };
}

describe('spendFrame', () => {
  it('admits a burst, then refuses until the bucket refills', () => {
    const { verdicts, budget } = send(freshBudget(limit, 0), 4, 0);
    expect(verdicts).toEqual(['admit', 'admit', 'admit', 'too_fast']);
    // 60 a minute: one frame a second.
    expect(spendFrame(budget, limit, 10, 500).verdict).toBe('too_fast');
    expect(spendFrame(budget, limit, 10, 1000).verdict).toBe('admit');
  });

  it('never refills above the burst, however long the socket was quiet', () => {
    const { budget } = send(freshBudget(limit, 0), 3, 0);
    const { verdicts } = send(budget, 5, 3_600_000);
    expect(verdicts).toEqual(['admit', 'admit', 'admit', 'too_fast', 'too_fast']);
  });

  it('holds a steady rate to the refill: 10,000 frames over 10 s admit the burst and ten more', () => {
    let budget = freshBudget(limit, 0);
    let admitted = 0;
    for (let i = 0; i < 10_000; i++) {
      const spent = spendFrame(budget, limit, 1, i); // one a millisecond
      budget = spent.budget;
      if (spent.verdict === 'admit') admitted++;
    }
    expect(admitted).toBe(3 + 9);
  });

  it('refuses an oversized frame even with tokens left, and counts it', () => {
    const spent = spendFrame(freshBudget(limit, 0), limit, 101, 0);
    expect(spent.verdict).toBe('too_large');
    expect(spent.budget).toMatchObject({ frames: 1, bytes: 101, tokens: 3 });
    expect(spendFrame(freshBudget(limit, 0), limit, 100, 0).verdict).toBe('admit');
  });

  it('counts every frame and byte, the refused ones too', () => {
    const { budget } = send(freshBudget(limit, 0), 5, 0, 7);
    expect(budget).toMatchObject({ frames: 5, bytes: 35 });
  });

  it('gives nothing back for a clock that went backwards', () => {
    const { budget } = send(freshBudget(limit, 10_000), 3, 10_000);
    expect(spendFrame(budget, limit, 1, 0).verdict).toBe('too_fast');
    expect(spendFrame(spendFrame(budget, limit, 1, 0).budget, limit, 1, 11_000).verdict).toBe('admit');
  });

  it('lets the protocol through: a launcher hello, activity every 10 s, renews, end', () => {
    const launcher = FRAME_LIMITS.launcher;
    let budget = freshBudget(launcher, 0);
    const verdicts = new Set<string>();
    const frame = (now: number) => {
      const spent = spendFrame(budget, launcher, 200, now);
      budget = spent.budget;
      verdicts.add(spent.verdict);
    };
    frame(0); // hello
    for (let t = 0; t <= 3_600_000; t += 10_000) frame(t); // an hour of activity
    for (let i = 0; i < 10; i++) frame(3_600_000); // renews and deliveries at once
    frame(3_600_001); // end
    expect([...verdicts]).toEqual(['admit']);
  });

  it("lets a launcher's largest valid message through: end with a 4,096-character error of escapes", () => {
    const end = JSON.stringify({ type: 'end', lastSeq: 2 ** 31, error: '\u0001'.repeat(4096) });
    const bytes = frameBytes(end, FRAME_LIMITS.launcher.maxFrameBytes);
    expect(bytes).toBeGreaterThan(24_000);
    expect(bytes).toBeLessThanOrEqual(FRAME_LIMITS.launcher.maxFrameBytes);
  });
});

describe('frameBytes', () => {
  it('measures text as UTF-8', () => {
    for (const text of ['', 'ping', 'é', '€', '😀', 'a€😀é', '\u07ff\u0800\uffff']) {
      expect(frameBytes(text, 1000)).toBe(new TextEncoder().encode(text).byteLength);
    }
  });

  it('measures binary frames by length', () => {
    expect(frameBytes(new ArrayBuffer(12), 1)).toBe(12);
  });

  it('returns a lower bound above the cap for a long text without walking it', () => {
    const long = '€'.repeat(2000);
    expect(frameBytes(long, 1000)).toBe(2000);
    expect(frameBytes(long, 10_000)).toBe(6000);
  });
});

describe('ActivitySaves', () => {
  it('saves the first activity, then at most one per interval', () => {
    const saves = new ActivitySaves();
    const due = [0, 1, 4_999, 5_000, 5_001, 9_999, 10_000, 60_000].map((t) => saves.due(t));
    expect(due).toEqual([true, false, false, true, false, false, true, true]);
  });

  it('saves every message of a launcher that keeps to its own 10 s spacing', () => {
    const saves = new ActivitySaves();
    expect(ACTIVITY_SAVE_EVERY_MS).toBeLessThan(10_000);
    for (let t = 0; t < 600_000; t += 10_000) expect(saves.due(t)).toBe(true);
  });
});
