/** What the next scheduled sweep will do, counted now for the Settings page. */
import type { RetentionPreview } from '../../protocol/retention.ts';
import type { Database } from '../../server/db/index.ts';
import { retentionSettings } from '../settings.ts';
import { dueCounts } from './directory.ts';
import { cutoffsAt } from './sweep.ts';

/** The hour (UTC) of the daily cron trigger in wrangler.jsonc (`0 3 * * *`). */
export const SWEEP_HOUR_UTC = 3;

/** The first scheduled run after `now`. */
export function nextRunAt(now: number): number {
  const today = new Date(now);
  const run = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), SWEEP_HOUR_UTC);
  return run > now ? run : run + 86_400_000;
}

/** The counts of the next run, as if it ran now with its clock at `nextRunAt(now)` and no budget. */
export async function previewRetention(db: Database, now: number): Promise<RetentionPreview> {
  const settings = await retentionSettings(db);
  const at = nextRunAt(now);
  const counts = await dueCounts(db, cutoffsAt(settings, at));
  return { at: new Date(at).toISOString(), settings, ...counts };
}
