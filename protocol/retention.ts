/**
 * Retention (docs/retention.md): the administrator's rules (archive after N days, delete after N days), a legal
 * hold's request, and what the sweep reports. Shared by the Worker and the console.
 */
import { z } from 'zod';

/** Up to a century: a longer period is a typo, not a policy. */
export const MAX_RETENTION_DAYS = 36_500;

const Days = z
  .number()
  .int('a whole number of days')
  .min(1, 'at least 1 day')
  .max(MAX_RETENTION_DAYS, `at most ${MAX_RETENTION_DAYS} days`);

/** One rule: whether it applies, and how many days after a session ended. */
export const RetentionRule = z.strictObject({ enabled: z.boolean(), afterDays: Days });
export type RetentionRule = z.infer<typeof RetentionRule>;

export const RetentionSettings = z.strictObject({
  /** Move the media to the archive bucket (R2 Infrequent Access) this long after the session ended. */
  archive: RetentionRule,
  /** Delete the media (pieces, sealed file, MP4) and activity this long after the session ended. */
  delete: RetentionRule,
});
export type RetentionSettings = z.infer<typeof RetentionSettings>;

/** A change: any rule's fields; what is not sent stays as it is. */
export const RetentionSettingsChange = z.strictObject({
  archive: RetentionRule.partial().optional(),
  delete: RetentionRule.partial().optional(),
});
export type RetentionSettingsChange = z.infer<typeof RetentionSettingsChange>;

/** Both off until an administrator turns them on: nothing recorded is ever removed by default. */
export const DEFAULT_RETENTION: RetentionSettings = {
  archive: { enabled: false, afterDays: 90 },
  delete: { enabled: false, afterDays: 365 },
};

/**
 * Why `settings` may not be saved, or null: archiving must come before deletion when both are on (an archive
 * after the media is gone would be meaningless, and one on the same day pays Infrequent Access for nothing).
 */
export function retentionOrderProblem(settings: RetentionSettings): string | null {
  if (settings.archive.enabled && settings.delete.enabled && settings.archive.afterDays >= settings.delete.afterDays) {
    return (
      `archive.afterDays (${settings.archive.afterDays}) must be less than delete.afterDays ` +
      `(${settings.delete.afterDays}): recordings are archived before they are deleted.`
    );
  }
  return null;
}

/** A legal hold placed or released: the reason is required and kept in the audit log. */
export const HoldRequest = z.strictObject({
  reason: z.string().trim().min(1, 'say why (a case or ticket number)').max(1000),
});
export type HoldRequest = z.infer<typeof HoldRequest>;

/** What one run of the sweep did, or (as a preview) what the next run would do. */
export interface RetentionCounts {
  archived: number;
  deleted: number;
}

/** What the next run will do, as the Settings page shows it. */
export interface RetentionPreview {
  /** When the next scheduled run starts (ISO). */
  at: string;
  settings: RetentionSettings;
  /** Sessions the next run would archive and delete (all of them, whatever its batch budget). */
  archive: number;
  delete: number;
  /** Sessions due for deletion that a legal hold keeps. */
  held: number;
  /** Deletions a previous run began and did not finish (the next run finishes them first). */
  unfinished: number;
}
