/** The session's ingest token: which one is current, and when to ask the server for the next one. */

/** Renew once less than this fraction of the token's life remains. */
export const RENEW_AT_REMAINING = 1 / 3;
/** Ask again if a renew request got no answer in this long. */
const RENEW_RETRY_MS = 20_000;

export class IngestToken {
  #token: string;
  #issuedAt: number;
  #expiresAt: number | null;
  #renewRequestedAt: number | null = null;
  /** The server refused the current token: renew now, whatever its expiry says. */
  #rejected = false;
  #waiters = new Set<() => void>();
  readonly #now: () => number;

  constructor(token: string, expiresAt: string | null, now: () => number = Date.now) {
    this.#now = now;
    this.#token = token;
    this.#issuedAt = now();
    this.#expiresAt = parseExpiry(expiresAt);
  }

  get value(): string {
    return this.#token;
  }

  /** Expiry in epoch ms, or null when unknown (a token given on the command line). */
  get expiresAt(): number | null {
    return this.#expiresAt;
  }

  /** A fresh token arrived (`token` message). */
  replace(token: string, expiresAt: string): void {
    this.#token = token;
    this.#issuedAt = this.#now();
    this.#expiresAt = parseExpiry(expiresAt);
    this.#renewRequestedAt = null;
    this.#rejected = false;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** An upload was refused with this token (401): the next `shouldRenew` says yes. */
  rejected(token: string): void {
    if (token === this.#token) this.#rejected = true;
  }

  /**
   * Whether to send `renew` now: the token was refused, its expiry is unknown (ask once to learn it), or
   * less than a third of its life remains; and no request is already waiting for an answer.
   */
  shouldRenew(): boolean {
    const now = this.#now();
    if (this.#renewRequestedAt !== null && now - this.#renewRequestedAt < RENEW_RETRY_MS) return false;
    if (this.#rejected || this.#expiresAt === null) return true;
    const life = this.#expiresAt - this.#issuedAt;
    return now >= this.#expiresAt - life * RENEW_AT_REMAINING;
  }

  renewRequested(): void {
    this.#renewRequestedAt = this.#now();
  }

  /** The socket that carried a renew request closed: a new connection may ask again at once. */
  renewAbandoned(): void {
    this.#renewRequestedAt = null;
  }

  /** Resolves when a token other than `token` is current, or after `timeoutMs`. */
  waitForReplacement(token: string, timeoutMs: number): Promise<void> {
    if (token !== this.#token) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

function parseExpiry(expiresAt: string | null): number | null {
  if (expiresAt === null) return null;
  const ms = Date.parse(expiresAt);
  return Number.isFinite(ms) ? ms : null;
}
