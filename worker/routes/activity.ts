/** `/api/v1/sessions/{id}/activity`: a session's events on its clock, searchable, and the activity map. */
import { and, asc, eq, gt, gte, inArray, lte, or, type SQL, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { ACTIVITY_TYPES } from '../../protocol/activity.ts';
import { activity, pieces } from '../../schema/index.ts';
import { activityDensity } from '../activity/density.ts';
import { activityPartitions } from '../activity/partitions.ts';
import { ANY_COLUMN, SEARCH_KEYS_PER_SEQ, searchExpression } from '../activity/search.ts';
import { eventView } from '../activity/view.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../db/index.ts';
import { findSession } from '../db/session-directory.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validate.ts';
import { SessionIdParam } from './params.ts';

const ActivityQuery = z.strictObject({
  q: z.string().trim().min(1).max(200).optional(),
  type: z
    .string()
    .transform((v) => v.split(','))
    .pipe(z.array(z.enum(ACTIVITY_TYPES)).min(1))
    .optional(),
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  /** The previous page's `nextCursor`. */
  cursor: z
    .string()
    .regex(/^\d{1,12}~\d{1,15}$/, 'not a cursor from this API')
    .optional(),
});

const DensityQuery = z.strictObject({ buckets: z.coerce.number().int().min(1).max(5000).default(200) });

type ActivityRowOut = typeof activity.$inferSelect;

/**
 * The ids of a session's events that match an FTS5 expression, as a subquery: `activity_search` read over the
 * session's own search keys (one range per `seq`, docs/activity.md), so the work is bounded by the session's
 * matches, whatever the rest of the database holds. Null when the session has no events.
 */
async function sessionSearchKeys(db: D1Database, sessionId: string, match: string): Promise<SQL | null> {
  const { results } = await db
    .prepare('SELECT seq FROM activity_search_sessions WHERE session_id = ?1 ORDER BY seq')
    .bind(sessionId)
    .all<{ seq: number }>();
  if (results.length === 0) return null;
  const ranges = results.map(
    ({ seq }) =>
      sql`SELECT k.activity_id FROM activity_search f JOIN activity_search_keys k ON k.key = f.rowid
           WHERE f.activity_search MATCH ${match} AND f.rowid >= ${seq * SEARCH_KEYS_PER_SEQ}
             AND f.rowid < ${(seq + 1) * SEARCH_KEYS_PER_SEQ}`,
  );
  return sql`(${sql.join(ranges, sql` UNION ALL `)})`;
}

async function requireSessionRow(env: Env, id: string) {
  const row = await findSession(database(env.DB), id);
  if (!row) throw new ApiError(404, 'session_not_found', `No session ${id}.`);
  return row;
}

// Guards sit on each route, not `.use()`: this app shares the /sessions prefix with others.
export const activityRoutes = new Hono<ApiEnv>()
  .get(
    '/:id/activity',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', ActivityQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const session = await requireSessionRow(c.env, id);
      const db = activityPartitions(c.env).forSession(session.createdAt);
      const where: SQL[] = [eq(activity.sessionId, id)];
      if (q.type) where.push(inArray(activity.type, q.type));
      if (q.from !== undefined) where.push(gte(activity.atMs, q.from));
      if (q.to !== undefined) where.push(lte(activity.atMs, q.to));
      if (q.cursor !== undefined) {
        const [atMs, after] = q.cursor.split('~').map(Number) as [number, number];
        const later = or(gt(activity.atMs, atMs), and(eq(activity.atMs, atMs), gt(activity.id, after)));
        if (later) where.push(later);
      }
      if (q.q) {
        const expression = await searchExpression(db, q.q, ANY_COLUMN);
        if (!expression) return c.json({ events: [], nextCursor: null });
        const within = await sessionSearchKeys(db, id, expression.match);
        if (!within) return c.json({ events: [], nextCursor: null });
        where.push(inArray(activity.id, within));
      }
      const rows: ActivityRowOut[] = await database(db)
        .select()
        .from(activity)
        .where(and(...where))
        .orderBy(asc(activity.atMs), asc(activity.id))
        .limit(q.limit + 1)
        .all();
      const page = rows.slice(0, q.limit);
      return c.json({
        events: page.map(eventView),
        nextCursor: rows.length > q.limit && page.length ? `${page.at(-1)?.atMs}~${page.at(-1)?.id}` : null,
      });
    },
  )
  .get(
    '/:id/activity/density',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', DensityQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const { buckets } = c.req.valid('query');
      const session = await requireSessionRow(c.env, id);
      const db = activityPartitions(c.env).forSession(session.createdAt);
      const media = await database(c.env.DB)
        .select({ startMs: pieces.startMs, size: pieces.size, endMs: pieces.endMs })
        .from(pieces)
        .where(eq(pieces.sessionId, id))
        .all();
      const lastEvent = await db
        .prepare('SELECT MAX(COALESCE(end_ms, at_ms)) AS last FROM activity WHERE session_id = ?1')
        .bind(id)
        .first<{ last: number | null }>();
      const mediaEnd = media.reduce((end, m) => Math.max(end, m.endMs), 0);
      const durationMs = Math.max(
        session.mediaDurationMs ?? 0,
        session.durationMs ?? 0,
        mediaEnd,
        lastEvent?.last ?? 0,
        1,
      );
      return c.json(await activityDensity(db, id, durationMs, buckets, media));
    },
  );
