import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';
import { bearerCredential } from './bearer.ts';
import { verifyIngestToken } from '../../server/auth/ingest-token.ts';

/** Ingest routes: the bearer must be a valid, unexpired token for the session in the path. */
export const requireIngestToken = createMiddleware<{ Bindings: Env }>(async (c, next) => {
  const check = await verifyIngestToken(c.env.WITNESS_TOKEN_SECRET, bearerCredential(c.req.header('authorization')));
  if (!check.ok) {
    throw check.reason === 'expired'
      ? new ApiError(401, 'token_expired', 'The ingest token has expired; renew it over the control socket.')
      : new ApiError(401, 'invalid_token', 'The ingest token is not valid.');
  }
  if (check.sessionId !== c.req.param('id')) {
    throw new ApiError(403, 'token_wrong_session', 'This ingest token belongs to another session.');
  }
  await next();
});
