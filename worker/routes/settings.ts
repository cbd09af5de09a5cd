/** `/api/v1/settings/recording`: what new sessions get as their policy. */
import { Hono } from 'hono';
import { Policy } from '../../protocol/session.ts';
import type { ApiVariables } from '../auth/api-key.ts';
import { database } from '../db/index.ts';
import { recordingPolicy, saveRecordingPolicy } from '../settings.ts';
import { validate } from '../validate.ts';

export const settingsRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>()
  .get('/recording', async (c) => c.json(await recordingPolicy(database(c.env.DB))))
  .put('/recording', validate('json', Policy.partial()), async (c) => {
    const db = database(c.env.DB);
    const next = Policy.parse({ ...(await recordingPolicy(db)), ...c.req.valid('json') });
    await saveRecordingPolicy(db, next);
    return c.json(next);
  });
