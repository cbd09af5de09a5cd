/** Recording settings: what new sessions snapshot as their policy. */
import { eq } from 'drizzle-orm';
import { DEFAULT_POLICY, Policy } from '../protocol/session.ts';
import { settings } from '../schema/index.ts';
import type { Database } from './db/index.ts';

const RECORDING_KEY = 'recording';

/** The current recording policy: stored settings over the defaults (a bad stored value falls back loudly). */
export async function recordingPolicy(db: Database): Promise<Policy> {
  const row = await db.select().from(settings).where(eq(settings.key, RECORDING_KEY)).get();
  if (!row) return DEFAULT_POLICY;
  const parsed = Policy.safeParse({ ...DEFAULT_POLICY, ...(row.value as object) });
  if (!parsed.success) {
    console.error('stored recording settings are invalid; using defaults', parsed.error.issues);
    return DEFAULT_POLICY;
  }
  return parsed.data;
}

export async function saveRecordingPolicy(db: Database, policy: Policy): Promise<void> {
  await db
    .insert(settings)
    .values({ key: RECORDING_KEY, value: policy, updatedAt: Date.now() })
    .onConflictDoUpdate({ target: settings.key, set: { value: policy, updatedAt: Date.now() } });
}
