/**
 * What a benchmark hands to bench/run.ts: one row per figure, Witness beside its baseline, and the goal.
 * Written as JSON to the file named by `--summary`, when given.
 */
import { writeFileSync } from 'node:fs';

export interface SummaryRow {
  figure: string;
  witness: string;
  baseline: string;
  goal: string;
  /** null when the row has no goal of its own. */
  met: boolean | null;
}

export interface BenchSummary {
  bench: string;
  rows: SummaryRow[];
}

export function writeSummary(file: string | undefined, summary: BenchSummary): void {
  if (file) writeFileSync(file, JSON.stringify(summary, null, 2));
}

export function verdict(met: boolean | null): string {
  return met === null ? '' : met ? 'met' : 'NOT met';
}
