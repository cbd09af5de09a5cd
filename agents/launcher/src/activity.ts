/**
 * User-input detection for the control socket's `activity` messages. Two sources feed it: the activity
 * capture's raw input events (`noteInput`), and the platform's idle time (idle-time.ts: xprintidle on X11,
 * GetLastInputInfo on Windows, HIDIdleTime on macOS) polled for the milliseconds since the last input (the
 * idle time going down, or being shorter than one poll, means someone typed or moved the mouse). Either way
 * at most one message per ACTIVITY_MIN_GAP_MS.
 */

export const ACTIVITY_POLL_MS = 5_000;
/** At most one `activity` message per this long. */
export const ACTIVITY_MIN_GAP_MS = 10_000;

export interface ActivityWatcherOptions {
  onActivity: () => void;
  pollMs?: number;
  minGapMs?: number;
  /** Reads the idle time in ms (idle-time.ts); without it only `noteInput` reports input. */
  readIdleMs?: () => Promise<number | null>;
}

export class ActivityWatcher {
  readonly #options: ActivityWatcherOptions;
  readonly #pollMs: number;
  readonly #minGapMs: number;
  #timer: NodeJS.Timeout | null = null;
  #flush: NodeJS.Timeout | null = null;
  #lastIdle: number | null = null;
  #lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(options: ActivityWatcherOptions) {
    this.#options = options;
    this.#pollMs = options.pollMs ?? ACTIVITY_POLL_MS;
    this.#minGapMs = options.minGapMs ?? ACTIVITY_MIN_GAP_MS;
  }

  /** Starts polling the idle time (not needed when the capture calls `noteInput`, but harmless). */
  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.#pollMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#flush) clearTimeout(this.#flush);
    this.#timer = this.#flush = null;
  }

  /** Input was seen by the activity capture. */
  noteInput(): void {
    this.#report();
  }

  /** One poll (public for tests). */
  async poll(): Promise<void> {
    const idle = (await this.#options.readIdleMs?.()) ?? null;
    if (idle === null) return;
    const input = idle < this.#pollMs || (this.#lastIdle !== null && idle < this.#lastIdle);
    this.#lastIdle = idle;
    if (input) this.#report();
  }

  /** Sends now, or once the gap since the last message has passed (input in between is one message). */
  #report(): void {
    if (this.#flush) return;
    const wait = this.#lastSentAt + this.#minGapMs - Date.now();
    const send = () => {
      this.#flush = null;
      this.#lastSentAt = Date.now();
      this.#options.onActivity();
    };
    if (wait <= 0) send();
    else this.#flush = setTimeout(send, wait);
  }
}
