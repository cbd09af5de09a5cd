/** `/api/v1/users`: console accounts (Manage Users and Keys). */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { identifier } from '../../protocol/identifier.ts';
import { Permission } from '../../protocol/permissions.ts';
import { loginSessions, users } from '../../schema/index.ts';
import { audit } from '../audit.ts';
import { hashPassword, PASSWORD_RULES } from '../auth/password.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { clearThrottle, throttledUsernames } from '../auth/sign-in-throttle.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validate.ts';

const Username = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._@+-]{1,100}$/, 'letters, digits and . _ @ + - only');

const NewUser = z.strictObject({
  username: Username,
  displayName: identifier(200).optional(),
  password: z.string().min(PASSWORD_RULES.min).max(PASSWORD_RULES.max),
  permissions: z.array(Permission).max(Permission.options.length),
});

const UserChange = z
  .strictObject({
    displayName: identifier(200),
    permissions: z.array(Permission).max(Permission.options.length),
    disabled: z.boolean(),
    password: z.string().min(PASSWORD_RULES.min).max(PASSWORD_RULES.max),
  })
  .partial();

const UserId = z.object({ id: z.uuid() });

/** `signInThrottled`: failed sign-ins make attempts at this account wait (from some address, or from new ones). */
function view(user: typeof users.$inferSelect, signInThrottled: boolean) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    permissions: user.permissions,
    disabled: user.disabled,
    mustChangePassword: user.mustChangePassword,
    createdAt: new Date(user.createdAt).toISOString(),
    lastLoginAt: user.lastLoginAt === null ? null : new Date(user.lastLoginAt).toISOString(),
    signInThrottled,
  };
}

export const userRoutes = new Hono<ApiEnv>()
  .use(requirePermission('users:manage'))
  .get('/', async (c) => {
    const db = database(c.env.DB);
    const rows = await db.select().from(users).orderBy(users.username).all();
    const throttled = await throttledUsernames(db, Date.now());
    return c.json({ users: rows.map((user) => view(user, throttled.has(user.username))) });
  })
  .post('/', validate('json', NewUser), async (c) => {
    const body = c.req.valid('json');
    const db = database(c.env.DB);
    const user = {
      id: crypto.randomUUID(),
      username: body.username,
      displayName: body.displayName ?? body.username,
      passwordHash: await hashPassword(body.password),
      permissions: [...new Set(body.permissions)],
      mustChangePassword: true,
      disabled: false,
      createdAt: Date.now(),
      lastLoginAt: null,
    };
    const inserted = await db.insert(users).values(user).onConflictDoNothing().returning().get();
    if (!inserted) throw new ApiError(409, 'username_taken', `There is already a user ${body.username}.`);
    await audit(c, {
      action: 'user.created',
      target: { type: 'user', id: user.id },
      details: { username: user.username, permissions: user.permissions },
    });
    return c.json(view(inserted, false), 201);
  })
  .patch('/:id', validate('param', UserId), validate('json', UserChange), async (c) => {
    const { id } = c.req.valid('param');
    const change = c.req.valid('json');
    const principal = c.get('principal');
    if (
      principal.id === `user:${id}` &&
      (change.disabled || (change.permissions && !change.permissions.includes('users:manage')))
    ) {
      throw new ApiError(409, 'self_lockout', 'You cannot disable yourself or remove your own Manage Users and Keys.');
    }
    const db = database(c.env.DB);
    const { password, ...rest } = change;
    const updated = await db
      .update(users)
      .set({ ...rest, ...(password ? { passwordHash: await hashPassword(password), mustChangePassword: true } : {}) })
      .where(eq(users.id, id))
      .returning()
      .get();
    if (!updated) throw new ApiError(404, 'user_not_found', 'No such user.');
    if (change.disabled || password) {
      await db.update(loginSessions).set({ revokedAt: Date.now() }).where(eq(loginSessions.userId, id)).run();
    }
    // Failures against the old password say nothing about the new one.
    const limitsCleared = password ? await clearThrottle(db, updated.username, Date.now()) : 0;
    await audit(c, {
      action: 'user.updated',
      target: { type: 'user', id },
      details: {
        username: updated.username,
        ...rest,
        passwordReset: Boolean(password),
        ...(password ? { limitsCleared } : {}),
      },
    });
    const throttled = await throttledUsernames(db, Date.now(), [updated.username]);
    return c.json(view(updated, throttled.has(updated.username)));
  })
  .post('/:id/unlock', validate('param', UserId), async (c) => {
    const { id } = c.req.valid('param');
    const db = database(c.env.DB);
    const user = await db.select().from(users).where(eq(users.id, id)).get();
    if (!user) throw new ApiError(404, 'user_not_found', 'No such user.');
    const limitsCleared = await clearThrottle(db, user.username, Date.now());
    await audit(c, {
      action: 'user.unlocked',
      target: { type: 'user', id },
      details: { username: user.username, limitsCleared },
    });
    return c.json(view(user, false));
  });
