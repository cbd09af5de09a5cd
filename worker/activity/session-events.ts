/**
 * A session's events on its clock (`GET /api/v1/sessions/{id}/activity`): filtered by type and time, searched
 * within the session, in time order, paged by a cursor `atMs~id` (the last event shown).
 */
import { and, asc, eq, gt, gte, inArray, lte, or, type SQL } from 'drizzle-orm';
import type { ActivityType } from '../../protocol/activity.ts';
import { activity } from '../../schema/index.ts';
import { database } from '../../server/db/index.ts';
import { sessionMatches } from './search/session.ts';
import { eventView } from '../../server/activity/view.ts';

export interface EventQuery {
  /** Text searched in the events (every word anywhere in an event). */
  q?: string;
  type?: readonly ActivityType[];
  /** Session-clock bounds, inclusive. */
  from?: number;
  to?: number;
  limit: number;
  /** The previous page's `nextCursor` (the route checks its shape). */
  cursor?: string;
}

export interface EventPage {
  events: Array<ReturnType<typeof eventView>>;
  /** Where the next page starts; null on the last page. */
  nextCursor: string | null;
}

/** A page of the events of session `sessionId` in `db` (its activity partition) that `query` selects. */
export async function sessionEvents(db: D1Database, sessionId: string, query: EventQuery): Promise<EventPage> {
  const where: SQL[] = [eq(activity.sessionId, sessionId)];
  if (query.type) where.push(inArray(activity.type, [...query.type]));
  if (query.from !== undefined) where.push(gte(activity.atMs, query.from));
  if (query.to !== undefined) where.push(lte(activity.atMs, query.to));
  if (query.cursor !== undefined) {
    const [atMs, after] = query.cursor.split('~').map(Number) as [number, number];
    const later = or(gt(activity.atMs, atMs), and(eq(activity.atMs, atMs), gt(activity.id, after)));
    if (later) where.push(later);
  }
  if (query.q) {
    const matches = await sessionMatches(db, sessionId, query.q);
    if (!matches) return { events: [], nextCursor: null };
    where.push(inArray(activity.id, matches));
  }
  const rows = await database(db)
    .select()
    .from(activity)
    .where(and(...where))
    .orderBy(asc(activity.atMs), asc(activity.id))
    .limit(query.limit + 1)
    .all();
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    events: page.map(eventView),
    nextCursor: rows.length > query.limit && last ? `${last.atMs}~${last.id}` : null,
  };
}
