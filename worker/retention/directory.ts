/**
 * Retention's reads and writes of D1's session directory: which sessions are due, and the marks (archived,
 * deleting, deleted, held). Every mark is decided by protocol/lifecycle.ts and written only if the row still is
 * what was decided on, so a hold placed while the sweep runs always wins over a deletion.
 */
import { and, asc, count, eq, inArray, isNotNull, isNull, lte, notInArray, or, type SQL, sql } from 'drizzle-orm';
import { allows, apply, type LifecycleFields, phaseOf } from '../../protocol/lifecycle.ts';
import { RecordingStatus } from '../../protocol/session.ts';
import { sessions } from '../../schema/index.ts';
import type { Database } from '../../server/db/index.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';

/** The recording statuses of an ended session that retention may take `name` from, as the lifecycle says. */
function statusesFor(name: 'archive' | 'delete'): RecordingStatus[] {
  return RecordingStatus.options.filter((recordingStatus) =>
    allows(phaseOf({ status: 'ended', recordingStatus }), name),
  );
}

/** Sealed (or failed) sessions that ended by `cutoff` and whose retention mark allows `name`. */
function due(name: 'archive' | 'delete', cutoff: number): SQL {
  const marks = ([null, 'archived'] as const).filter((retention) =>
    allows(phaseOf({ status: 'ended', recordingStatus: 'ready', retention }), name),
  );
  const archived = marks.includes('archived') ? [eq(sessions.retention, 'archived')] : [];
  const retention = marks.includes(null) ? or(isNull(sessions.retention), ...archived) : and(...archived);
  return and(
    eq(sessions.status, 'ended'),
    inArray(sessions.recordingStatus, statusesFor(name)),
    retention,
    lte(sessions.endedAt, cutoff),
  ) as SQL;
}

/** Ids already tried and failed this run are not picked again (a handful at most: the run stops after a few). */
function except(ids: readonly string[]): SQL[] {
  return ids.length ? [notInArray(sessions.id, [...ids])] : [];
}

const oldestFirst = [asc(sessions.endedAt), asc(sessions.id)];

/** Deletions a run began and did not finish. */
export function unfinishedDeletions(db: Database, limit: number, skip: readonly string[]): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.retention, 'deleting'), ...except(skip)))
    .orderBy(...oldestFirst)
    .limit(limit)
    .all();
}

/** Sessions due for deletion by `cutoff` and not held. */
export function dueForDeletion(
  db: Database,
  cutoff: number,
  limit: number,
  skip: readonly string[],
): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(and(due('delete', cutoff), isNull(sessions.heldAt), ...except(skip)))
    .orderBy(...oldestFirst)
    .limit(limit)
    .all();
}

/** Sessions due for archiving by `cutoff`. */
export function dueForArchive(db: Database, cutoff: number, limit: number, skip: readonly string[]) {
  return db
    .select()
    .from(sessions)
    .where(and(due('archive', cutoff), ...except(skip)))
    .orderBy(...oldestFirst)
    .limit(limit)
    .all();
}

/** How many sessions a run at these cutoffs would act on (the Settings page's preview). */
export async function dueCounts(
  db: Database,
  cutoffs: { archive: number | null; delete: number | null },
): Promise<{ archive: number; delete: number; held: number; unfinished: number }> {
  const counted = async (where: SQL | undefined) =>
    (await db.select({ n: count() }).from(sessions).where(where).get())?.n ?? 0;
  const deleteDue = cutoffs.delete === null ? null : due('delete', cutoffs.delete);
  return {
    // A session due for both is deleted, not archived (unless a hold keeps it: then it is archived).
    archive:
      cutoffs.archive === null
        ? 0
        : await counted(
            and(
              due('archive', cutoffs.archive),
              deleteDue ? or(sql`NOT (${deleteDue})`, isNotNull(sessions.heldAt)) : undefined,
            ),
          ),
    delete: deleteDue ? await counted(and(deleteDue, isNull(sessions.heldAt))) : 0,
    held: deleteDue ? await counted(and(deleteDue, isNotNull(sessions.heldAt))) : 0,
    unfinished: await counted(eq(sessions.retention, 'deleting')),
  };
}

/** The retention mark `row` may be changed from: what it was read with. */
function unchanged(row: SessionRow): SQL {
  return row.retention === null ? isNull(sessions.retention) : eq(sessions.retention, row.retention);
}

function fields(row: SessionRow): LifecycleFields {
  return { status: row.status, recordingStatus: row.recordingStatus, retention: row.retention };
}

/** Marks the session archived; false when it changed meanwhile. */
export async function markArchived(db: Database, row: SessionRow, at: number): Promise<boolean> {
  const { retention } = apply(fields(row), 'archive');
  const result = await db
    .update(sessions)
    .set({ retention, archivedAt: at })
    .where(and(eq(sessions.id, row.id), unchanged(row)))
    .run();
  return result.meta.changes === 1;
}

/** Decides the deletion (reads are refused from now on); false when the session was held or changed meanwhile. */
export async function markDeleting(db: Database, row: SessionRow, at: number): Promise<boolean> {
  const { retention } = apply(fields(row), 'delete');
  const result = await db
    .update(sessions)
    .set({ retention, mediaDeletedAt: at })
    .where(and(eq(sessions.id, row.id), unchanged(row), isNull(sessions.heldAt)))
    .run();
  return result.meta.changes === 1;
}

/** Records that the media and activity are gone. */
export async function markDeleted(db: Database, row: SessionRow): Promise<void> {
  const { retention } = apply(fields(row), 'finishDelete');
  await db
    .update(sessions)
    .set({ retention })
    .where(and(eq(sessions.id, row.id), eq(sessions.retention, 'deleting')))
    .run();
}

/** Places a hold on a session whose media still exists; false when it is held already or its media is going. */
export async function placeHold(
  db: Database,
  id: string,
  hold: { at: number; by: string; reason: string },
): Promise<boolean> {
  const result = await db
    .update(sessions)
    .set({ heldAt: hold.at, heldBy: hold.by, holdReason: hold.reason })
    .where(
      and(
        eq(sessions.id, id),
        isNull(sessions.heldAt),
        or(isNull(sessions.retention), eq(sessions.retention, 'archived')),
      ),
    )
    .run();
  return result.meta.changes === 1;
}

/** Releases a session's hold; false when it is not held. */
export async function releaseHold(db: Database, id: string): Promise<boolean> {
  const result = await db
    .update(sessions)
    .set({ heldAt: null, heldBy: null, holdReason: null })
    .where(and(eq(sessions.id, id), isNotNull(sessions.heldAt)))
    .run();
  return result.meta.changes === 1;
}
