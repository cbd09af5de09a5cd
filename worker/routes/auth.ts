/** `/api/v1/auth`: console sign-in with a password, sign-out, who am I, change password. */
import { and, eq, ne } from 'drizzle-orm';
import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { loginSessions, users } from '../../schema/index.ts';
import { audit } from '../audit.ts';
import { ensureBootstrapAdmin } from '../auth/bootstrap.ts';
import { DUMMY_PASSWORD_HASH, hashPassword, PASSWORD_RULES, verifyPassword } from '../auth/password.ts';
import { ABSOLUTE_TIMEOUT_MS, type ApiEnv, authenticate, SESSION_COOKIE } from '../auth/principal.ts';
import { randomToken, sha256Hex } from '../auth/secrets.ts';
import { admitSignIn, signInFailed, signInSucceeded } from '../auth/sign-in-throttle.ts';
import { clientAddress, throttleKey } from '../client-address.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validate.ts';

const Credentials = z.strictObject({
  username: z.string().trim().min(1).max(100),
  password: z.string().min(1).max(PASSWORD_RULES.max),
});

const NewPassword = z.strictObject({
  currentPassword: z.string().min(1).max(PASSWORD_RULES.max),
  newPassword: z.string().min(PASSWORD_RULES.min).max(PASSWORD_RULES.max),
});

function userView(user: typeof users.$inferSelect) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    permissions: user.permissions,
    mustChangePassword: user.mustChangePassword,
  };
}

export const authRoutes = new Hono<ApiEnv>()
  .post('/login', validate('json', Credentials), async (c) => {
    const ip = clientAddress(c);
    const addressKey = throttleKey(ip);
    const limited = await c.env.LOGIN_LIMITER.limit({ key: addressKey });
    if (!limited.success) throw new ApiError(429, 'too_many_attempts', 'Too many sign-in attempts; wait a minute.');

    const { username, password } = c.req.valid('json');
    const db = database(c.env.DB);
    await ensureBootstrapAdmin(c.env, db);
    const now = Date.now();
    const actor = { kind: 'user' as const, id: null, name: username };

    // Unknown usernames are counted and held back exactly as real ones, and their passwords are checked too.
    const attempt = await admitSignIn(db, username, addressKey, now);
    if (!attempt.admitted) {
      c.header('retry-after', String(Math.ceil(attempt.retryAfterMs / 1000)));
      throw new ApiError(
        429,
        'sign_in_delayed',
        'Too many failed sign-ins for this account; wait as Retry-After says, then try again.',
      );
    }
    const user = await db.select().from(users).where(eq(users.username, username)).get();
    const valid = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !valid || user.disabled) {
      const started = await signInFailed(db, username, attempt, now);
      await audit(c, { action: 'login.failed', actor, details: { failures: attempt.address.failures } });
      for (const { limit, failures, delayMs } of started) {
        await audit(c, { action: 'login.throttled', actor, details: { limit, failures, waitSeconds: delayMs / 1000 } });
      }
      throw new ApiError(401, 'invalid_credentials', 'Wrong username or password.');
    }

    await signInSucceeded(db, username, attempt, now);
    const token = randomToken();
    const csrfToken = randomToken();
    await db.batch([
      db.insert(loginSessions).values({
        tokenHash: await sha256Hex(token),
        userId: user.id,
        csrfToken,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + ABSOLUTE_TIMEOUT_MS,
        ip,
        userAgent: c.req.header('user-agent')?.slice(0, 300) ?? null,
      }),
      db.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id)),
    ]);
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: ABSOLUTE_TIMEOUT_MS / 1000,
    });
    await audit(c, { action: 'login.succeeded', actor: { kind: 'user', id: `user:${user.id}`, name: user.username } });
    return c.json({ user: userView(user), csrfToken });
  })
  .use(authenticate)
  .get('/me', async (c) => {
    const principal = c.get('principal');
    return c.json({
      kind: principal.kind,
      name: principal.name,
      permissions: [...principal.permissions],
      csrfToken: principal.login?.csrfToken ?? null,
      mustChangePassword: principal.kind === 'user' ? await mustChangePassword(c.env, principal.id) : false,
    });
  })
  .post('/logout', async (c) => {
    const principal = c.get('principal');
    if (principal.login?.tokenHash) {
      await database(c.env.DB)
        .update(loginSessions)
        .set({ revokedAt: Date.now() })
        .where(eq(loginSessions.tokenHash, principal.login.tokenHash))
        .run();
      await audit(c, { action: 'logout' });
    }
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: true });
    return c.json({ ok: true });
  })
  .post('/password', validate('json', NewPassword), async (c) => {
    const principal = c.get('principal');
    const tokenHash = principal.login?.tokenHash;
    if (principal.kind !== 'user' || !tokenHash) {
      throw new ApiError(400, 'not_a_user', 'Only users signed in with a password can change it.');
    }
    const { currentPassword, newPassword } = c.req.valid('json');
    const db = database(c.env.DB);
    const userId = principal.id.slice('user:'.length);
    const user = await db.select().from(users).where(eq(users.id, userId)).get();
    if (!user || !(await verifyPassword(currentPassword, user.passwordHash))) {
      throw new ApiError(401, 'invalid_credentials', 'The current password is wrong.');
    }
    await db
      .update(users)
      .set({ passwordHash: await hashPassword(newPassword), mustChangePassword: false })
      .where(eq(users.id, userId))
      .run();
    // Every other login of this user ends; this one stays.
    await db
      .update(loginSessions)
      .set({ revokedAt: Date.now() })
      .where(and(eq(loginSessions.userId, userId), ne(loginSessions.tokenHash, tokenHash)))
      .run();
    await audit(c, { action: 'password.changed', target: { type: 'user', id: userId } });
    return c.json({ ok: true });
  });

async function mustChangePassword(env: Env, principalId: string): Promise<boolean> {
  const user = await database(env.DB)
    .select({ mustChangePassword: users.mustChangePassword })
    .from(users)
    .where(eq(users.id, principalId.slice('user:'.length)))
    .get();
  return user?.mustChangePassword ?? false;
}
