/**
 * The retention sweep (docs/retention.md), run daily by the cron trigger: finishes deletions an earlier run
 * began, deletes the media of sessions past the delete rule (held ones excepted), archives those past the archive
 * rule. Batches of a few sessions at a time under one budget of storage operations; whatever is left is the next
 * run's. Nothing is kept in memory between batches: the marks in D1 say what is done, so a run that is cut short
 * (a crash, an eviction, the budget) is resumed by the next one from the same place. Every session acted on
 * gets an audit row as it is done, and every run one with its summary.
 */
import { eq, isNull } from 'drizzle-orm';
import { phaseOf, retentionAllows } from '../../protocol/lifecycle.ts';
import type { RetentionSettings } from '../../protocol/retention.ts';
import { retentionRuns } from '../../schema/index.ts';
import { database } from '../../server/db/index.ts';
import { dropJob } from '../../server/processing/jobs.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { auditSystem } from '../audit.ts';
import { retentionSettings } from '../settings.ts';
import { deleteActivity } from './activity.ts';
import { SweepBudget } from './budget.ts';
import {
  dueCounts,
  dueForArchive,
  dueForDeletion,
  markArchived,
  markDeleted,
  markDeleting,
  unfinishedDeletions,
} from './directory.ts';
import { archiveMedia, type CopyLimits, deleteMedia } from './media.ts';

const DAY_MS = 86_400_000;

export interface SweepOptions {
  /** The run's clock: the cron's scheduled time. */
  now: number;
  /** Sessions picked per batch. */
  batchSize?: number;
  /** Storage operations (R2 calls, D1 statements) one run may make: well inside a Worker's limits. */
  operations?: number;
  /** A run stops after this many sessions failed (each is retried by the next run). */
  maxFailures?: number;
  /** How objects are copied to the archive (smaller parts in tests). */
  copy?: CopyLimits;
}

export interface SweepSummary {
  runId: string;
  /** The earlier run this one found unfinished (interrupted), if any. */
  resumed: string | null;
  settings: RetentionSettings;
  /** Sessions that ended by these times were due (ISO; null where the rule is off). */
  cutoffs: { archive: string | null; delete: string | null };
  archived: number;
  deleted: number;
  /** Of `deleted`, deletions an earlier run had begun. */
  finished: number;
  events: number;
  failures: Array<{ sessionId: string; message: string }>;
  /** Whether nothing due is left; when false, the next run goes on (`remaining` says with how much). */
  complete: boolean;
  remaining: { archive: number; delete: number; held: number; unfinished: number };
}

/** The cutoffs of a run at `now`: sessions that ended at or before them are due. */
export function cutoffsAt(settings: RetentionSettings, now: number): { archive: number | null; delete: number | null } {
  return {
    archive: settings.archive.enabled ? now - settings.archive.afterDays * DAY_MS : null,
    delete: settings.delete.enabled ? now - settings.delete.afterDays * DAY_MS : null,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the sweep once. Never throws for one session's failure: it is recorded and retried next run. */
export async function sweepRetention(env: Env, options: SweepOptions): Promise<SweepSummary> {
  const db = database(env.DB);
  const { now, batchSize = 10, operations = 5000, maxFailures = 5 } = options;
  const settings = await retentionSettings(db);
  const cutoffs = cutoffsAt(settings, now);
  const budget = new SweepBudget(operations);
  const startedAt = Date.now();
  /** The run's clock: `now` at the start, moving as real time does. */
  const clock = () => now + (Date.now() - startedAt);

  const interrupted = await db.select().from(retentionRuns).where(isNull(retentionRuns.finishedAt)).all();
  const runId = crypto.randomUUID();
  const summary: SweepSummary = {
    runId,
    resumed: interrupted.at(-1)?.id ?? null,
    settings,
    cutoffs: { archive: iso(cutoffs.archive), delete: iso(cutoffs.delete) },
    archived: 0,
    deleted: 0,
    finished: 0,
    events: 0,
    failures: [],
    complete: false,
    remaining: { archive: 0, delete: 0, held: 0, unfinished: 0 },
  };
  for (const run of interrupted) {
    // Closed as interrupted: what it did is in its summary and its sessions' audit rows; this run goes on.
    await db
      .update(retentionRuns)
      .set({ finishedAt: now, summary: { ...run.summary, interrupted: true, resumedBy: runId } })
      .where(eq(retentionRuns.id, run.id))
      .run();
  }
  await db
    .insert(retentionRuns)
    .values({ id: runId, startedAt: now, summary: { ...summary } })
    .run();

  const failed: string[] = [];
  const fail = (row: SessionRow, error: unknown) => {
    failed.push(row.id);
    summary.failures.push({ sessionId: row.id, message: message(error) });
    console.error('retention: session', row.id, error);
  };

  /** Deletes the media and activity of a session marked `deleting`; false when the budget ran out first. */
  const finishDeletion = async (row: SessionRow, begunEarlier: boolean): Promise<boolean> => {
    // Before the media: a conversion still running must not store an MP4 after it.
    await dropJob(db, row.id);
    if ((await deleteMedia(env, row, budget)) === 'incomplete') return false;
    const activity = await deleteActivity(env, row, budget);
    summary.events += activity.events;
    if (activity.outcome === 'incomplete') return false;
    await markDeleted(db, row);
    summary.deleted++;
    if (begunEarlier) summary.finished++;
    await auditSystem(db, [
      {
        action: 'session.media_deleted',
        target: { type: 'session', id: row.id },
        details: {
          runId,
          on: iso(row.mediaDeletedAt ?? now),
          endedAt: iso(row.endedAt),
          rule: begunEarlier ? 'finished a deletion begun earlier' : `delete after ${settings.delete.afterDays} days`,
          activityEvents: activity.events,
        },
      },
    ]);
    return true;
  };

  batches: while (!budget.exhausted && failed.length < maxFailures) {
    let acted = 0;
    for (const row of await unfinishedDeletions(db, batchSize, failed)) {
      acted++;
      budget.spend();
      try {
        if (!(await finishDeletion(row, true))) break batches;
      } catch (error) {
        fail(row, error);
      }
    }
    if (cutoffs.delete !== null && acted < batchSize) {
      for (const row of await dueForDeletion(db, cutoffs.delete, batchSize - acted, failed)) {
        acted++;
        budget.spend();
        try {
          if (!retentionAllows(phaseOf(row), row.heldAt !== null, 'delete')) continue;
          // A hold placed since the row was read wins: the session is left as it is.
          if (!(await markDeleting(db, row, now))) continue;
          const marked: SessionRow = { ...row, retention: 'deleting', mediaDeletedAt: now };
          if (!(await finishDeletion(marked, false))) break batches;
        } catch (error) {
          fail(row, error);
        }
      }
    }
    if (cutoffs.archive !== null && acted < batchSize) {
      for (const row of await dueForArchive(db, cutoffs.archive, batchSize - acted, failed)) {
        acted++;
        budget.spend();
        try {
          if (!retentionAllows(phaseOf(row), row.heldAt !== null, 'archive')) continue;
          if ((await archiveMedia(env, row, budget, options.copy)) === 'incomplete') break batches;
          if (!(await markArchived(db, row, now))) continue;
          summary.archived++;
          await auditSystem(db, [
            {
              action: 'session.archived',
              target: { type: 'session', id: row.id },
              details: { runId, endedAt: iso(row.endedAt), rule: `archive after ${settings.archive.afterDays} days` },
            },
          ]);
        } catch (error) {
          fail(row, error);
        }
      }
    }
    await db
      .update(retentionRuns)
      .set({ summary: { ...summary } })
      .where(eq(retentionRuns.id, runId))
      .run();
    if (acted === 0) break;
  }

  summary.remaining = await dueCounts(db, cutoffs);
  summary.complete =
    summary.remaining.archive === 0 && summary.remaining.delete === 0 && summary.remaining.unfinished === 0;
  await db
    .update(retentionRuns)
    .set({ finishedAt: clock(), summary: { ...summary } })
    .where(eq(retentionRuns.id, runId))
    .run();
  await auditSystem(db, [
    { action: 'retention.run', target: { type: 'retention', id: runId }, details: { ...summary } },
  ]);
  return summary;
}
