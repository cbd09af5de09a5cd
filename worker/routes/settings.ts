/**
 * `/api/v1/settings/recording`: what new sessions get as their policy. `/api/v1/settings/redaction`: the
 * administrator's own secret patterns, applied (with the built-in ones) to every event stored from then on.
 */
import { Hono } from 'hono';
import { Policy } from '../../protocol/session.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import { RedactionSettings } from '../../protocol/redaction.ts';
import { recordingPolicy, redactionSettings, saveRecordingPolicy, saveRedactionSettings } from '../settings.ts';
import { validate } from '../validate.ts';

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
  });
