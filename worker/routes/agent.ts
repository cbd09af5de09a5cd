/**
 * witness-agent's questions (`GET /api/v1/agent/policy`: whether its host's logins are recorded, and how) and
 * the administrator's "record all sessions" rules per host pattern (`GET|PUT /api/v1/settings/agent`).
 */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import {
  type AgentPolicyReply,
  AgentSettings,
  DEFAULT_AGENT_SETTINGS,
  recordsHost,
} from '../../protocol/agent-policy.ts';
import { settings } from '../../schema/index.ts';
import { type Database, database } from '../../server/db/index.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { recordingPolicy } from '../settings.ts';
import { validate } from '../validate.ts';

const AGENT_KEY = 'agent';

/** The rules, none until set (every host recorded). A bad stored value is refused loudly, not guessed. */
export async function agentSettings(db: Database): Promise<AgentSettings> {
  const row = await db.select().from(settings).where(eq(settings.key, AGENT_KEY)).get();
  if (!row) return DEFAULT_AGENT_SETTINGS;
  const parsed = AgentSettings.safeParse(row.value);
  if (!parsed.success) throw new Error(`stored agent settings are invalid: ${parsed.error.message}`);
  return parsed.data;
}

export const agentRoutes = new Hono<ApiEnv>().get('/policy', requirePermission('sessions:launch'), async (c) => {
  const host = c.get('principal').host;
  if (host === null) {
    throw new ApiError(403, 'not_an_agent_key', 'Only an agent key (bound to its host) asks for the agent policy.');
  }
  const db = database(c.env.DB);
  const { record, rule } = recordsHost(await agentSettings(db), host);
  const reply: AgentPolicyReply = { host, record, rule, policy: await recordingPolicy(db) };
  return c.json(reply);
});

/** Mounted under `/settings` (whose routes already require recording:administer). */
export const agentSettingsRoutes = new Hono<ApiEnv>()
  .get('/agent', requirePermission('recording:administer'), async (c) =>
    c.json(await agentSettings(database(c.env.DB))),
  )
  .put('/agent', requirePermission('recording:administer'), validate('json', AgentSettings), async (c) => {
    const db = database(c.env.DB);
    const before = await agentSettings(db);
    const value = c.req.valid('json');
    await db
      .insert(settings)
      .values({ key: AGENT_KEY, value, updatedAt: Date.now() })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: Date.now() } });
    await audit(c, {
      action: 'settings.changed',
      target: { type: 'settings', id: 'agent' },
      details: { before, after: value },
    });
    return c.json(value);
  });
