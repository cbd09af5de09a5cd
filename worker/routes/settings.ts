/** `/api/v1/settings/recording`: what new sessions get as their policy. */
import { Hono } from 'hono';
import { Policy } from '../../protocol/session.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../db/index.ts';
import { recordingPolicy, saveRecordingPolicy } from '../settings.ts';
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
  });
