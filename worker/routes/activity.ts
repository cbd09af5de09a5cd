/** `/api/v1/sessions/{id}/activity`: a session's events on its clock, searchable, and the activity map. */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { ACTIVITY_TYPES } from '../../protocol/activity.ts';
import { pieces } from '../../schema/index.ts';
import { activityDensity } from '../activity/density.ts';
import { activityPartitions } from '../../server/activity/partitions.ts';
import { sessionEvents } from '../activity/session-events.ts';
import { audit, auditRead } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import { validate } from '../validate.ts';
import { requireRecordedSession, SessionIdParam } from './params.ts';

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

// Guards sit on each route, not `.use()`: this app shares the /sessions prefix with others.
export const activityRoutes = new Hono<ApiEnv>()
  .get(
    '/:id/activity',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', ActivityQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const query = c.req.valid('query');
      const session = await requireRecordedSession(c.env, id);
      const db = activityPartitions(c.env).forSession(session.createdAt);
      const page = await sessionEvents(db, id, query);
      // A search names what was looked for, every time; plain reads are one row an hour, counted beside it.
      if (query.q) {
        await audit(c, { action: 'sessions.searched', target: { type: 'session', id }, details: { q: query.q } });
      } else {
        await auditRead(c, { action: 'activity.viewed', sessionId: id, kind: 'activity', details: { what: 'events' } });
      }
      return c.json(page);
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
      const session = await requireRecordedSession(c.env, id);
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
      const density = await activityDensity(db, id, durationMs, buckets, media);
      await auditRead(c, {
        action: 'activity.viewed',
        sessionId: id,
        kind: 'density',
        details: { what: 'activity map' },
      });
      return c.json(density);
    },
  );
