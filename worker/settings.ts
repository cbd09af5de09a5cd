/** Recording settings: what new sessions snapshot as their policy. */
import { eq } from 'drizzle-orm';
import { DEFAULT_RECORDING_RULES, RecordingRules } from '../protocol/recording-rules.ts';
import { RedactionSettings } from '../protocol/redaction.ts';
import { DEFAULT_RETENTION, RetentionSettings } from '../protocol/retention.ts';
import { DEFAULT_POLICY, Policy } from '../protocol/session.ts';
import { settings } from '../schema/index.ts';
import type { Database } from '../server/db/index.ts';

const RECORDING_KEY = 'recording';
const REDACTION_KEY = 'redaction';

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

/** The administrator's redaction patterns (none until some are added). A bad stored value is refused loudly. */
export async function redactionSettings(db: Database): Promise<RedactionSettings> {
  const row = await db.select().from(settings).where(eq(settings.key, REDACTION_KEY)).get();
  if (!row) return { patterns: [] };
  const parsed = RedactionSettings.safeParse(row.value);
  // Storing events without the patterns the administrator set would keep what they meant to hide: refuse.
  if (!parsed.success) throw new Error(`stored redaction settings are invalid: ${parsed.error.message}`);
  return parsed.data;
}

export async function saveRedactionSettings(db: Database, value: RedactionSettings): Promise<void> {
  await db
    .insert(settings)
    .values({ key: REDACTION_KEY, value, updatedAt: Date.now() })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: Date.now() } });
}

const RETENTION_KEY = 'retention';

/**
 * The retention rules (protocol/retention.ts), off until set. A bad stored value is refused loudly: guessing
 * rules for a sweep that deletes evidence would be worse than not sweeping.
 */
export async function retentionSettings(db: Database): Promise<RetentionSettings> {
  const row = await db.select().from(settings).where(eq(settings.key, RETENTION_KEY)).get();
  if (!row) return DEFAULT_RETENTION;
  const parsed = RetentionSettings.safeParse(row.value);
  if (!parsed.success) throw new Error(`stored retention settings are invalid: ${parsed.error.message}`);
  return parsed.data;
}

export async function saveRetentionSettings(db: Database, value: RetentionSettings): Promise<void> {
  await db
    .insert(settings)
    .values({ key: RETENTION_KEY, value, updatedAt: Date.now() })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: Date.now() } });
}

const RULES_KEY = 'recording-rules';

/**
 * The default storage and the rules by target (protocol/recording-rules.ts). A bad stored value is refused loudly:
 * saving a session to a bucket nobody chose (outside its jurisdiction) would be worse than not launching.
 */
export async function recordingRules(db: Database): Promise<RecordingRules> {
  const row = await db.select().from(settings).where(eq(settings.key, RULES_KEY)).get();
  if (!row) return DEFAULT_RECORDING_RULES;
  const parsed = RecordingRules.safeParse(row.value);
  if (!parsed.success) throw new Error(`stored recording rules are invalid: ${parsed.error.message}`);
  return parsed.data;
}

export async function saveRecordingRules(db: Database, value: RecordingRules): Promise<void> {
  await db
    .insert(settings)
    .values({ key: RULES_KEY, value, updatedAt: Date.now() })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: Date.now() } });
}
