/**
 * The processing settings (protocol/processing.ts `ProcessingSettings`): read by the Worker's settings routes and
 * by the session object, which converts every sealed video automatically when on-demand processing is off.
 */
import { eq } from 'drizzle-orm';
import { DEFAULT_PROCESSING_SETTINGS, ProcessingSettings } from '../../protocol/processing.ts';
import { settings } from '../../schema/index.ts';
import type { Database } from '../db/index.ts';

const PROCESSING_KEY = 'processing';

/** Stored settings over the defaults; a bad stored value falls back to the defaults loudly. */
export async function processingSettings(db: Database): Promise<ProcessingSettings> {
  const row = await db.select().from(settings).where(eq(settings.key, PROCESSING_KEY)).get();
  if (!row) return DEFAULT_PROCESSING_SETTINGS;
  const parsed = ProcessingSettings.safeParse({ ...DEFAULT_PROCESSING_SETTINGS, ...(row.value as object) });
  if (!parsed.success) {
    console.error('stored processing settings are invalid; using defaults', parsed.error.issues);
    return DEFAULT_PROCESSING_SETTINGS;
  }
  return parsed.data;
}

export async function saveProcessingSettings(db: Database, value: ProcessingSettings): Promise<void> {
  await db
    .insert(settings)
    .values({ key: PROCESSING_KEY, value, updatedAt: Date.now() })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: Date.now() } });
}
