/**
 * `/api/v1/sessions/{id}/retention` (what retention did and will do to a session) and `.../hold` (a legal hold:
 * placed and released with a reason, by an administrator of session recording, audited).
 */
import { Hono } from 'hono';
import { allows, holdAllows, isMediaDeleted, phaseOf, retentionAllows } from '../../protocol/lifecycle.ts';
import { HoldRequest } from '../../protocol/retention.ts';
import { database } from '../../server/db/index.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { placeHold, releaseHold } from '../retention/directory.ts';
import { retentionSettings } from '../settings.ts';
import { validate } from '../validate.ts';
import { requireSession, SessionIdParam } from './params.ts';

const DAY_MS = 86_400_000;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The hold as the API shows it, or null. */
export function holdView(row: SessionRow) {
  return row.heldAt === null ? null : { since: iso(row.heldAt), by: row.heldBy, reason: row.holdReason };
}

/** What retention did to a session (the session view carries it too). */
export function retentionView(row: SessionRow) {
  const deleted = isMediaDeleted(phaseOf(row));
  return {
    state: row.retention,
    archivedAt: iso(row.archivedAt),
    mediaDeletedAt: iso(row.mediaDeletedAt),
    hold: holdView(row),
    notice:
      deleted && row.mediaDeletedAt !== null
        ? `recording deleted by retention on ${iso(row.mediaDeletedAt)?.slice(0, 10)}`
        : null,
  };
}

export const retentionRoutes = new Hono<ApiEnv>()
  .get(
    '/:id/retention',
    requirePermission('sessions:monitor', 'recordings:view', 'recording:administer'),
    validate('param', SessionIdParam),
    async (c) => {
      const row = await requireSession(c.env, c.req.valid('param').id);
      const settings = await retentionSettings(database(c.env.DB));
      // When the rules in force would act on it (days after it ended); null where a rule is off or it has not ended.
      const dueAt = (days: number, enabled: boolean) =>
        enabled && row.endedAt !== null ? iso(row.endedAt + days * DAY_MS) : null;
      const phase = phaseOf(row);
      return c.json({
        ...retentionView(row),
        archiveDueAt: allows(phase, 'archive') ? dueAt(settings.archive.afterDays, settings.archive.enabled) : null,
        deleteDueAt: retentionAllows(phase, row.heldAt !== null, 'delete')
          ? dueAt(settings.delete.afterDays, settings.delete.enabled)
          : null,
      });
    },
  )
  .put(
    '/:id/hold',
    requirePermission('recording:administer'),
    validate('param', SessionIdParam),
    validate('json', HoldRequest),
    async (c) => {
      const { id } = c.req.valid('param');
      const { reason } = c.req.valid('json');
      const row = await requireSession(c.env, id);
      const phase = phaseOf(row);
      if (!holdAllows(phase, row.heldAt !== null, 'hold')) {
        throw row.heldAt !== null
          ? new ApiError(409, 'already_held', `Session ${id} is already held (since ${iso(row.heldAt)}).`)
          : new ApiError(409, 'media_deleted', `The recording of session ${id} was deleted by retention.`);
      }
      const principal = c.get('principal');
      const at = Date.now();
      if (!(await placeHold(database(c.env.DB), id, { at, by: principal.name, reason }))) {
        throw new ApiError(409, 'hold_conflict', `Session ${id} changed meanwhile (held or deleted); read it again.`);
      }
      await audit(c, { action: 'session.held', target: { type: 'session', id }, details: { reason } });
      return c.json({ hold: { since: iso(at), by: principal.name, reason } });
    },
  )
  .delete(
    '/:id/hold',
    requirePermission('recording:administer'),
    validate('param', SessionIdParam),
    validate('json', HoldRequest),
    async (c) => {
      const { id } = c.req.valid('param');
      const { reason } = c.req.valid('json');
      const row = await requireSession(c.env, id);
      if (!holdAllows(phaseOf(row), row.heldAt !== null, 'release')) {
        throw new ApiError(409, 'not_held', `Session ${id} is not held.`);
      }
      if (!(await releaseHold(database(c.env.DB), id))) {
        throw new ApiError(409, 'not_held', `Session ${id} is not held.`);
      }
      await audit(c, {
        action: 'session.released',
        target: { type: 'session', id },
        details: { reason, held: holdView(row) },
      });
      return c.json({ hold: null });
    },
  );
