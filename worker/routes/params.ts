/** What the routes check of their path parameters and requests before they act: ids, upgrades, sessions. */
import { z } from 'zod';
import { isMediaDeleted, phaseOf } from '../../protocol/lifecycle.ts';
import { database } from '../../server/db/index.ts';
import { findSession, type SessionRow } from '../../server/db/session-directory.ts';
import { ApiError } from '../errors.ts';

export const SessionIdParam = z.object({ id: z.uuid({ message: 'not a session id' }) });

/** WebSocket routes answer plain HTTP with 426 rather than a confusing 4xx from deeper down. */
export function requireUpgrade(request: Request): void {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'This endpoint is a WebSocket; send Upgrade: websocket.');
  }
}

/** The session a route names, or a 404 `session_not_found`. */
export async function requireSession(env: Env, id: string): Promise<SessionRow> {
  const row = await findSession(database(env.DB), id);
  if (!row) throw new ApiError(404, 'session_not_found', `No session ${id}.`);
  return row;
}

/**
 * Refuses a read of recorded media or activity that retention deleted: 410 `media_deleted`, naming the day. The
 * session, its manifest and its audit trail stay readable.
 */
export function refuseDeletedMedia(row: SessionRow): void {
  if (!isMediaDeleted(phaseOf(row))) return;
  const day = row.mediaDeletedAt === null ? 'an unknown day' : new Date(row.mediaDeletedAt).toISOString().slice(0, 10);
  throw new ApiError(
    410,
    'media_deleted',
    `The recording of session ${row.id} was deleted by retention on ${day}; its manifest and audit trail are kept.`,
  );
}

/** The session whose recorded media or activity a route reads: 404 when there is none, 410 when deleted. */
export async function requireRecordedSession(env: Env, id: string): Promise<SessionRow> {
  const row = await requireSession(env, id);
  refuseDeletedMedia(row);
  return row;
}
