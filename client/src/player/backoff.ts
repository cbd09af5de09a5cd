/** Reconnect delays: exponential from BASE_MS, capped at MAX_MS, with jitter so viewers do not reconnect in step. */

export const BASE_MS = 500;
export const MAX_MS = 15_000;

/** Delay before reconnect `attempt` (1, 2, …): uniformly random in [½, 1] × min(MAX_MS, BASE_MS·2^(attempt−1)). */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}
