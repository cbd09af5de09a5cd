/** `/api/v1/users`: console accounts (Manage Users and Keys). */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { Permission } from '../../protocol/permissions.ts';
import { loginSessions, users } from '../../schema/index.ts';
import { audit } from '../audit.ts';
import { hashPassword, PASSWORD_RULES } from '../auth/password.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../db/index.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validate.ts';

const Username = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._@+-]{1,100}$/, 'letters, digits and . _ @ + - only');

const NewUser = z.strictObject({
  username: Username,
  displayName: z.string().trim().min(1).max(200).optional(),
  password: z.string().min(PASSWORD_RULES.min).max(PASSWORD_RULES.max),
  permissions: z.array(Permission).max(Permission.options.length),
});

const UserChange = z
  .strictObject({
    displayName: z.string().trim().min(1).max(200),
    permissions: z.array(Permission).max(Permission.options.length),
    disabled: z.boolean(),
    password: z.string().min(PASSWORD_RULES.min).max(PASSWORD_RULES.max),
  })
  .partial();

function view(user: typeof users.$inferSelect) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    permissions: user.permissions,
    disabled: user.disabled,
    mustChangePassword: user.mustChangePassword,
    createdAt: new Date(user.createdAt).toISOString(),
    lastLoginAt: user.lastLoginAt === null ? null : new Date(user.lastLoginAt).toISOString(),
  };
}

export const userRoutes = new Hono<ApiEnv>()
  .use(requirePermission('users:manage'))
  .get('/', async (c) => {
    const rows = await database(c.env.DB).select().from(users).orderBy(users.username).all();
    return c.json({ users: rows.map(view) });
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
    return c.json(view(inserted), 201);
  })
  .patch('/:id', validate('param', z.object({ id: z.uuid() })), validate('json', UserChange), async (c) => {
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
    await audit(c, {
      action: 'user.updated',
      target: { type: 'user', id },
      details: { username: updated.username, ...rest, passwordReset: Boolean(password) },
    });
    return c.json(view(updated));
  });
