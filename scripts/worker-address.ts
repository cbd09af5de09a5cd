/**
 * Where the local edge (local-edge.ts) sends what it forwards: the Worker's own workerd, whose port wrangler
 * changes at every reload (scripts/wrangler-dev.ts reports it). While a reload runs there is none, and a request
 * waits for the next one, for a while. After a failed reload requests go to the Worker there was: wrangler may
 * have failed before replacing it, and if it did not, they fail at once (the edge's 502).
 */
export interface Address {
  host: string;
  port: number;
}

export class WorkerAddress {
  #current: Address | null;
  /** Where the Worker was before the reload that runs now. */
  #previous: Address | null = null;
  /** Why there is no address, once waiting for one is pointless (the first start failed); null while one may come. */
  #failure: string | null = null;
  readonly #waiting = new Set<() => void>();

  /** `initial`: a fixed address (a test's, say); none until `set` otherwise. */
  constructor(initial: Address | null = null) {
    this.#current = initial;
  }

  /** Where the Worker answers now; null while it reloads, or when its first start failed. */
  get current(): Address | null {
    return this.#current;
  }

  /** How many requests are waiting for an address now. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** The Worker answers at `address` from now on. */
  set(address: Address): void {
    this.#current = address;
    this.#failure = null;
    this.#wake();
  }

  /** A reload has begun: the old address is going away, the new one is not known yet. */
  reloading(): void {
    this.#previous = this.#current ?? this.#previous;
    this.#current = null;
    this.#failure = null;
  }

  /** The reload failed: back to the Worker there was, if any; until the next reload, none otherwise. */
  failed(reason: string): void {
    this.#current = this.#previous;
    this.#failure = this.#current ? null : reason;
    this.#wake();
  }

  /** The address as soon as there is one; null if none comes within `waitMs`, or the first start failed. */
  next(waitMs: number): Promise<Address | null> {
    if (this.#current || this.#failure !== null) return Promise.resolve(this.#current);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve(this.#current);
      };
      const timer = setTimeout(wake, waitMs);
      this.#waiting.add(wake);
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiting]) wake();
  }
}
