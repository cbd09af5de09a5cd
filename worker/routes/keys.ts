/** `/api/v1/keys`: API keys with scopes (Manage Users and Keys). The secret is shown once, stored hashed. */
import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { identifier } from '../../protocol/identifier.ts';
import { ApiKeyScope } from '../../protocol/permissions.ts';
import { apiKeys } from '../../schema/index.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { randomToken, sha256Hex } from '../auth/secrets.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validate.ts';

const NewKey = z
  .strictObject({
    name: identifier(100),
    scopes: z.array(ApiKeyScope).min(1).max(ApiKeyScope.options.length),
    /** Required for `agent` keys: the host whose sessions the agent records. */
    host: identifier(500).optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .refine((k) => !k.scopes.includes('agent') || k.host, { message: 'agent keys need a host', path: ['host'] });

function view(key: typeof apiKeys.$inferSelect) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    host: key.host,
    createdBy: key.createdBy,
    createdAt: iso(key.createdAt),
    expiresAt: iso(key.expiresAt),
    lastUsedAt: iso(key.lastUsedAt),
    revokedAt: iso(key.revokedAt),
  };
}

export const keyRoutes = new Hono<ApiEnv>()
  .use(requirePermission('users:manage'))
  .get('/', async (c) => {
    const rows = await database(c.env.DB).select().from(apiKeys).orderBy(desc(apiKeys.createdAt)).all();
    return c.json({ keys: rows.map(view) });
  })
  .post('/', validate('json', NewKey), async (c) => {
    const body = c.req.valid('json');
    const secret = `wk_${randomToken(32)}`;
    const now = Date.now();
    const key = {
      id: crypto.randomUUID(),
      name: body.name,
      prefix: secret.slice(0, 10),
      secretHash: await sha256Hex(secret),
      scopes: [...new Set(body.scopes)],
      host: body.host ?? null,
      createdBy: c.get('principal').name,
      createdAt: now,
      expiresAt: body.expiresInDays ? now + body.expiresInDays * 86_400_000 : null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await database(c.env.DB).insert(apiKeys).values(key).run();
    await audit(c, {
      action: 'key.created',
      target: { type: 'api_key', id: key.id },
      details: { name: key.name, scopes: key.scopes, host: key.host, prefix: key.prefix },
    });
    return c.json({ key: view(key), secret }, 201);
  })
  .delete('/:id', validate('param', z.object({ id: z.uuid() })), async (c) => {
    const { id } = c.req.valid('param');
    const revoked = await database(c.env.DB)
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(eq(apiKeys.id, id))
      .returning()
      .get();
    if (!revoked) throw new ApiError(404, 'key_not_found', 'No such API key.');
    await audit(c, { action: 'key.revoked', target: { type: 'api_key', id }, details: { name: revoked.name } });
    return c.json(view(revoked));
  });
