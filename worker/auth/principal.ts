/**
 * Who is calling the API, and what they may do. Three kinds of caller: a console user (login cookie), an API
 * key (Bearer), and the bootstrap key from WITNESS_API_KEY (Bearer, every permission). Ingest tokens are not
 * accepted here: they can feed a session and read nothing.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { type ApiKeyScope, Permission, SCOPE_PERMISSIONS } from '../../protocol/permissions.ts';
import { LOCAL_PROCESSOR_KEY_CONTEXT, LOCAL_PROCESSOR_KEY_PREFIX } from '../../protocol/processing.ts';
import { apiKeys, loginSessions, users } from '../../schema/index.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { ACCESS_JWT_HEADER, accessConfig, verifyAccessJwt } from './access.ts';
import { bearerCredential, secretsEqual } from './bearer.ts';
import { hmacHex, sha256Hex } from './secrets.ts';

export interface Principal {
  kind: 'user' | 'api-key' | 'bootstrap';
  id: string;
  name: string;
  permissions: ReadonlySet<Permission>;
  /** `agent` API keys may only launch sessions on this target. */
  host: string | null;
  /** Set for console users: their CSRF token, and for cookie logins the login's token hash. */
  login: { tokenHash: string | null; csrfToken: string } | null;
}

export type ApiVariables = { principal: Principal };
export type ApiEnv = { Bindings: Env; Variables: ApiVariables };

export const SESSION_COOKIE = 'witness_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A login ends after this long without a request… */
export const IDLE_TIMEOUT_MS = 30 * 60_000;
/** …and after this long whatever happens. */
export const ABSOLUTE_TIMEOUT_MS = 12 * 60 * 60_000;
/** last_seen_at is written at most this often, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function fromApiKey(c: Context<ApiEnv>, presented: string): Promise<Principal> {
  const bootstrap = c.env.WITNESS_API_KEY;
  if (bootstrap && (await secretsEqual(presented, bootstrap))) {
    return {
      kind: 'bootstrap',
      id: 'key:bootstrap',
      name: 'bootstrap key',
      permissions: new Set(Permission.options),
      host: null,
      login: null,
    };
  }
  if (presented.startsWith(LOCAL_PROCESSOR_KEY_PREFIX)) {
    const local = await hmacHex(c.env.WITNESS_TOKEN_SECRET, LOCAL_PROCESSOR_KEY_CONTEXT);
    if (await secretsEqual(presented, `${LOCAL_PROCESSOR_KEY_PREFIX}${local}`)) {
      // `npm start`'s own processor (protocol/processing.ts): the processor scope and nothing else.
      return {
        kind: 'api-key',
        id: 'key:local-processor',
        name: 'local processor',
        permissions: new Set(SCOPE_PERMISSIONS.processor),
        host: null,
        login: null,
      };
    }
  }
  const db = database(c.env.DB);
  const key = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, await sha256Hex(presented)), isNull(apiKeys.revokedAt)))
    .get();
  const now = Date.now();
  if (!key || (key.expiresAt !== null && key.expiresAt <= now)) {
    throw new ApiError(401, 'invalid_api_key', 'The API key is not valid (unknown, revoked or expired).');
  }
  if (key.lastUsedAt === null || now - key.lastUsedAt > TOUCH_INTERVAL_MS) {
    c.executionCtx.waitUntil(db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id)).run());
  }
  return {
    kind: 'api-key',
    id: `key:${key.id}`,
    name: key.name,
    permissions: new Set(key.scopes.flatMap((scope: ApiKeyScope) => SCOPE_PERMISSIONS[scope])),
    host: key.scopes.includes('agent') && !key.scopes.includes('launch') ? key.host : null,
    login: null,
  };
}

async function fromCookie(c: Context<ApiEnv>, token: string): Promise<Principal> {
  const db = database(c.env.DB);
  const tokenHash = await sha256Hex(token);
  const row = await db
    .select({ session: loginSessions, user: users })
    .from(loginSessions)
    .innerJoin(users, eq(users.id, loginSessions.userId))
    .where(and(eq(loginSessions.tokenHash, tokenHash), isNull(loginSessions.revokedAt)))
    .get();
  const now = Date.now();
  if (!row || row.user.disabled || row.session.expiresAt <= now || row.session.lastSeenAt + IDLE_TIMEOUT_MS <= now) {
    throw new ApiError(401, 'login_expired', 'Your login has expired; sign in again.');
  }
  if (!SAFE_METHODS.has(c.req.method)) {
    const sent = c.req.header(CSRF_HEADER) ?? '';
    if (!(await secretsEqual(sent, row.session.csrfToken))) {
      throw new ApiError(403, 'csrf_failed', `Cookie-authenticated writes need the ${CSRF_HEADER} header.`);
    }
  }
  if (now - row.session.lastSeenAt > TOUCH_INTERVAL_MS) {
    c.executionCtx.waitUntil(
      db.update(loginSessions).set({ lastSeenAt: now }).where(eq(loginSessions.tokenHash, tokenHash)).run(),
    );
  }
  const permissions = row.user.mustChangePassword ? [] : row.user.permissions;
  return {
    kind: 'user',
    id: `user:${row.user.id}`,
    name: row.user.username,
    permissions: new Set(permissions),
    host: null,
    login: { tokenHash, csrfToken: row.session.csrfToken },
  };
}

/** A user signed in by Cloudflare Access; their CSRF token is derived, as there is no login row. */
async function fromAccess(c: Context<ApiEnv>, jwt: string): Promise<Principal | null> {
  const config = accessConfig(c.env);
  if (!config) return null;
  const email = await verifyAccessJwt(config, jwt);
  if (!email) throw new ApiError(401, 'invalid_access_token', 'The Cloudflare Access token is not valid here.');
  const user = await database(c.env.DB).select().from(users).where(sql`lower(${users.username}) = ${email}`).get();
  if (!user || user.disabled) {
    throw new ApiError(403, 'no_account', `Cloudflare Access signed in ${email}, who has no Witness account.`);
  }
  const csrfToken = await hmacHex(c.env.WITNESS_TOKEN_SECRET, `access-csrf:${user.id}`);
  if (!SAFE_METHODS.has(c.req.method) && !(await secretsEqual(c.req.header(CSRF_HEADER) ?? '', csrfToken))) {
    throw new ApiError(403, 'csrf_failed', `Writes need the ${CSRF_HEADER} header.`);
  }
  return {
    kind: 'user',
    id: `user:${user.id}`,
    name: user.username,
    permissions: new Set(user.permissions),
    host: null,
    login: { tokenHash: null, csrfToken },
  };
}

/** Resolves the caller from a Bearer credential, the login cookie or Cloudflare Access; 401 without any. */
export const authenticate = createMiddleware<ApiEnv>(async (c, next) => {
  const authorization = c.req.header('authorization');
  const cookie = getCookie(c, SESSION_COOKIE);
  const accessJwt = c.req.header(ACCESS_JWT_HEADER);
  const principal = authorization
    ? await fromApiKey(c, bearerCredential(authorization))
    : cookie
      ? await fromCookie(c, cookie)
      : accessJwt
        ? await fromAccess(c, accessJwt)
        : null;
  if (!principal) throw new ApiError(401, 'unauthenticated', 'Sign in, or send `Authorization: Bearer <API key>`.');
  c.set('principal', principal);
  await next();
});

/** Route guard: the caller must hold `permission`. */
export function requirePermission(...anyOf: [Permission, ...Permission[]]) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const { permissions } = c.get('principal');
    if (!anyOf.some((permission) => permissions.has(permission))) {
      throw new ApiError(403, 'forbidden', `This needs the ${anyOf.join(' or the ')} permission.`);
    }
    await next();
  });
}
