/**
 * How much one sweep run may do: a count of storage operations (R2 calls, D1 statements), so that a backlog of
 * any size is worked off in runs that each stay inside a Worker's CPU, subrequest and time limits.
 */
export class SweepBudget {
  #left: number;

  constructor(operations: number) {
    this.#left = operations;
  }

  /** Counts `n` operations as done. */
  spend(n = 1): void {
    this.#left -= n;
  }

  get exhausted(): boolean {
    return this.#left <= 0;
  }
}

/** What a step that works under a budget reports: finished, or stopped because the budget ran out. */
export type StepOutcome = 'done' | 'incomplete';
