/**
 * `POST /api/v1/server/restarting` (protocol/server-restart.ts): `npm start` calls it on Ctrl-C or SIGTERM,
 * before it stops wrangler, so that live viewers get a 1012 close and reconnect instead of a bare 1006.
 */
import { inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import {
  SERVER_RESTART_KEY_CONTEXT,
  SERVER_RESTART_REASON,
  type ServerRestartReply,
} from '../../protocol/server-restart.ts';
import { sessions } from '../../schema/index.ts';
import { bearerCredential, secretsEqual } from '../auth/bearer.ts';
import type { ApiEnv } from '../auth/principal.ts';
import { hmacHex } from '../auth/secrets.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { sessionObject } from '../stubs.ts';

export const serverRoutes = new Hono<ApiEnv>().post('/restarting', async (c) => {
  const presented = bearerCredential(c.req.header('authorization'));
  const restartKey = await hmacHex(c.env.WITNESS_TOKEN_SECRET, SERVER_RESTART_KEY_CONTEXT);
  if (!(await secretsEqual(presented, restartKey))) {
    throw new ApiError(401, 'invalid_restart_key', 'This is not the server restart key.');
  }
  // Viewers watch sessions that are still going; an ended session's viewers have been closed with 4000.
  const live = await database(c.env.DB)
    .select({ id: sessions.id })
    .from(sessions)
    .where(inArray(sessions.status, ['pending', 'active']))
    .all();
  const closed = await Promise.all(
    live.map(({ id }) =>
      sessionObject(c.env, id)
        .serverRestarting(SERVER_RESTART_REASON)
        .catch((error: unknown) => {
          console.warn('could not tell the viewers of a session about the restart', id, error);
          return 0;
        }),
    ),
  );
  const reply: ServerRestartReply = { sessions: live.length, viewers: closed.reduce((sum, n) => sum + n, 0) };
  return c.json(reply);
});
