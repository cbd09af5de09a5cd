/**
 * The one way tests wait: poll a condition until it holds, or fail naming what was awaited. A test waits for
 * what a pause would have stood for (a piece stored, a port open, a process ended), never for a fixed time.
 */

export interface WaitOptions {
  /** Give up after this long; 60 s by default (an end-to-end run on two busy cores is slow). */
  timeoutMs?: number;
  /** Time between two looks; 250 ms by default (a look may be a request to a server on a busy machine). */
  intervalMs?: number;
  /** Appended to the timeout's message: what was seen instead (a log, the last state). */
  detail?: () => string | Promise<string>;
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value `condition` returns. A condition that throws ends the wait with its
 * error: a server that exited will not start answering.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  { timeoutMs = 60_000, intervalMs = 250, detail }: WaitOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Truthy<T>;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const message = `timed out after ${timeoutMs} ms waiting for ${what}`;
  throw new Error(detail ? `${message}; ${await detail()}` : message);
}
