/**
 * `/api/v1/settings/recording`: what new sessions get as their policy; `.../recording/rules`: the default storage
 * and the rules by target (recording level, storage), `.../recording/storage` the locations they may name; `.../recording/retention`: when recordings
 * are archived and deleted (docs/retention.md), and what the next sweep will do. `/api/v1/settings/redaction`: the
 * administrator's own secret patterns, applied (with the built-in ones) to every event stored from then on.
 */
import { Hono } from 'hono';
import { Policy } from '../../protocol/session.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import { RedactionSettings } from '../../protocol/redaction.ts';
import { RetentionSettings, RetentionSettingsChange, retentionOrderProblem } from '../../protocol/retention.ts';
import { ApiError } from '../errors.ts';
import { previewRetention } from '../retention/preview.ts';
import {
  recordingPolicy,
  recordingRules,
  redactionSettings,
  retentionSettings,
  saveRecordingPolicy,
  saveRecordingRules,
  saveRedactionSettings,
  saveRetentionSettings,
} from '../settings.ts';
import { describeIssues, validate } from '../validate.ts';
import { ProcessingSettings } from '../../protocol/processing.ts';
import { RecordingRules } from '../../protocol/recording-rules.ts';
import { isStorage, storageLocations } from '../../server/storage.ts';
import { processingSettings, saveProcessingSettings } from '../../server/processing/settings.ts';

export const settingsRoutes = new Hono<ApiEnv>()
  .use(requirePermission('recording:administer'))
  .get('/recording', async (c) => c.json(await recordingPolicy(database(c.env.DB))))
  .put('/recording', validate('json', Policy.partial()), async (c) => {
    const db = database(c.env.DB);
    const before = await recordingPolicy(db);
    const next = Policy.parse({ ...before, ...c.req.valid('json') });
    await saveRecordingPolicy(db, next);
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'recording' },
      details: { before, after: next },
    });
    return c.json(next);
  })
  // Where recordings are saved and at what level, by target (first matching rule wins); new sessions only.
  .get('/recording/storage', (c) => {
    const locations = storageLocations(c.env);
    return c.json({ locations, default: locations[0]?.name ?? null });
  })
  .get('/recording/rules', async (c) => c.json(await recordingRules(database(c.env.DB))))
  .put('/recording/rules', validate('json', RecordingRules), async (c) => {
    const db = database(c.env.DB);
    const next = c.req.valid('json');
    const named = [next.storage, ...next.rules.flatMap((rule) => (rule.storage ? [rule.storage] : []))];
    const unknown = named.find((name) => !isStorage(c.env, name));
    if (unknown !== undefined) {
      const known = storageLocations(c.env).map((location) => location.name);
      throw new ApiError(
        400,
        'unknown_storage',
        `No storage location ${unknown} in this deployment; choose one of ${known.join(', ')}.`,
      );
    }
    const before = await recordingRules(db);
    await saveRecordingRules(db, next);
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'recording-rules' },
      details: { before, after: next },
    });
    return c.json(next);
  })
  .get('/redaction', async (c) => c.json(await redactionSettings(database(c.env.DB))))
  .put('/redaction', validate('json', RedactionSettings), async (c) => {
    const db = database(c.env.DB);
    const before = await redactionSettings(db);
    const next = c.req.valid('json');
    await saveRedactionSettings(db, next);
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'redaction' },
      details: { before, after: next },
    });
    return c.json(next);
  })
  .get('/recording/retention', async (c) => c.json(await retentionSettings(database(c.env.DB))))
  .put('/recording/retention', validate('json', RetentionSettingsChange), async (c) => {
    const db = database(c.env.DB);
    const before = await retentionSettings(db);
    const change = c.req.valid('json');
    const parsed = RetentionSettings.safeParse({
      archive: { ...before.archive, ...change.archive },
      delete: { ...before.delete, ...change.delete },
    });
    if (!parsed.success) throw new ApiError(400, 'invalid_json', describeIssues(parsed.error.issues));
    const next = parsed.data;
    const problem = retentionOrderProblem(next);
    if (problem) throw new ApiError(400, 'retention_order', problem);
    await saveRetentionSettings(db, next);
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'retention' },
      details: { before, after: next },
    });
    return c.json(next);
  })
  // MP4 processing (docs/processing.md): on demand or automatic, and which codec.
  .get('/recording/processing', async (c) => c.json(await processingSettings(database(c.env.DB))))
  .put('/recording/processing', validate('json', ProcessingSettings.partial()), async (c) => {
    const db = database(c.env.DB);
    const before = await processingSettings(db);
    const next = ProcessingSettings.parse({ ...before, ...c.req.valid('json') });
    await saveProcessingSettings(db, next);
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'processing' },
      details: { before, after: next },
    });
    return c.json(next);
  })
  .get('/recording/retention/next-run', async (c) => c.json(await previewRetention(database(c.env.DB), Date.now())));
