/**
 * API authentication. For now one credential exists: the bootstrap key from `WITNESS_API_KEY`, which has
 * every scope. Managed, scoped, revocable keys and console logins build on this middleware.
 */
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';
import { bearerCredential, secretsEqual } from './bearer.ts';

/** Who is calling, as routes and the audit trail see it. */
export interface Principal {
  id: string;
  name: string;
}

export type ApiVariables = { principal: Principal };

export const requireApiKey = createMiddleware<{ Bindings: Env; Variables: ApiVariables }>(async (c, next) => {
  const presented = bearerCredential(c.req.header('authorization'));
  const bootstrap = c.env.WITNESS_API_KEY;
  if (!bootstrap || !(await secretsEqual(presented, bootstrap))) {
    throw new ApiError(401, 'invalid_api_key', 'The API key is not valid.');
  }
  c.set('principal', { id: 'key:bootstrap', name: 'bootstrap key' });
  await next();
});
