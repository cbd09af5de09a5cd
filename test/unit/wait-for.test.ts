import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';

describe('waitFor', () => {
  it('resolves with the first truthy value, looking again until the condition holds', async () => {
    let looks = 0;
    const value = await waitFor('the third look', () => ++looks >= 3 && { looks }, { intervalMs: 1 });
    expect(value).toEqual({ looks: 3 });
  });

  it('fails naming what it waited for, with the detail', async () => {
    let looks = 0;
    const never = () => ++looks < 0;
    await expect(
      waitFor('the moon', never, { timeoutMs: 30, intervalMs: 5, detail: () => 'sky: cloudy' }),
    ).rejects.toThrow('timed out after 30 ms waiting for the moon; sky: cloudy');
    expect(looks).toBeGreaterThan(1);
  });

  it('ends the wait at once when the condition throws', async () => {
    let looks = 0;
    const failing = () => {
      looks++;
      throw new Error('the server exited');
    };
    await expect(waitFor('a server that exited', failing, { timeoutMs: 5_000 })).rejects.toThrow('the server exited');
    expect(looks).toBe(1);
  });
});
