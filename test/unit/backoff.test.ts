import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay } from '../../agents/launcher/src/backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the base and stays within [half, full] of each step', () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const step = 500 * 2 ** attempt;
      expect(backoffDelay(attempt, { random: () => 0 })).toBe(step / 2);
      expect(backoffDelay(attempt, { random: () => 0.999999 })).toBeCloseTo(step, -1);
    }
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    for (const attempt of [6, 10, 50, 1000, Number.MAX_SAFE_INTEGER]) {
      const delay = backoffDelay(attempt, { random: () => 0.999999 });
      expect(delay).toBeLessThanOrEqual(30_000);
      expect(delay).toBeGreaterThan(29_000);
    }
    expect(backoffDelay(3, { baseMs: 100, capMs: 250, random: () => 0.999999 })).toBeLessThanOrEqual(250);
  });

  it('is jittered: different random draws give different delays', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(4000);
      expect(delay).toBeLessThanOrEqual(8000);
    }
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffDelay(-5, { random: () => 0 })).toBe(250);
  });
});

describe('Backoff', () => {
  it('counts failures and starts over after reset', () => {
    const backoff = new Backoff({ baseMs: 100, random: () => 0 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 100, 200]);
    expect(backoff.attempts).toBe(3);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(50);
  });
});
