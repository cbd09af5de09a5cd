/** Capped exponential backoff with jitter, for reconnects and upload retries. */

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs?: number;
  /** No delay is longer than this. */
  capMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/**
 * Delay before retry number `attempt` (0 = first retry): the exponential step capped at `capMs`, then
 * scaled by a random factor in [0.5, 1) so that many launchers cut off together don't come back together,
 * while no delay collapses to zero.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const cap = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
  const random = options.random ?? Math.random;
  const step = Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(step * (0.5 + random() * 0.5));
}

/** Counts consecutive failures and hands out the next delay; `reset` after a success. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;

  constructor(options: BackoffOptions = {}) {
    this.#options = options;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  next(): number {
    return backoffDelay(this.#attempt++, this.#options);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
