/**
 * `/api/v1/audit`: the audit trail, searchable (View Audit Log). Read-only: there is no write route.
 * `/api/v1/audit/reads`: the totals behind each read's one row an hour (worker/audit.ts `auditRead`).
 */
import { and, type Column, desc, eq, gte, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { auditLog, readWindows, sessions } from '../../schema/index.ts';
import { type Database, database } from '../../server/db/index.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { auditCsv, auditJson, type ExportedAuditRow, MAX_EXPORT_ROWS } from '../exports/audit-export.ts';
import { validate } from '../validate.ts';

const ReadsQuery = z.strictObject({
  session: z.string().max(200).optional(),
  actor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const AuditQuery = z.strictObject({
  q: z.string().trim().min(1).max(200).optional(),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  target: z.string().max(200).optional(),
  /** Rows about this session (its id). */
  session: z.string().max(200).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Entries older than this id (the previous page's `nextCursor`). */
  cursor: z.coerce.number().int().positive().optional(),
});

const ExportQuery = AuditQuery.omit({ limit: true }).extend({ format: z.enum(['csv', 'json']).default('csv') });

/** The filters both the page and the export take. */
function filtersOf(q: Omit<z.infer<typeof AuditQuery>, 'limit' | 'cursor'>): SQL[] {
  const where: SQL[] = [];
  if (q.actor) where.push(eq(auditLog.actorName, q.actor));
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.target) where.push(eq(auditLog.targetId, q.target));
  if (q.session) where.push(and(eq(auditLog.targetType, 'session'), eq(auditLog.targetId, q.session)) as SQL);
  if (q.from) where.push(gte(auditLog.at, Date.parse(q.from)));
  if (q.to) where.push(lte(auditLog.at, Date.parse(q.to)));
  if (q.q) {
    const text = or(
      ...[auditLog.actorName, auditLog.action, auditLog.targetId, auditLog.details, auditLog.ip].map((column) =>
        contains(column, q.q as string),
      ),
    );
    if (text) where.push(text);
  }
  return where;
}

/** Rows older than `cursor` (an id), newest first, as the API lists them. */
async function auditPage(
  db: Database,
  where: SQL[],
  cursor: number | null,
  limit: number,
  offset = 0,
): Promise<ExportedAuditRow[]> {
  const rows = await db
    .select({ row: auditLog, sessionUser: sessions.user, sessionTarget: sessions.target })
    .from(auditLog)
    // A row about a session names whom and what it recorded, so that it reads as a sentence.
    .leftJoin(sessions, and(eq(auditLog.targetType, 'session'), eq(sessions.id, auditLog.targetId)))
    .where(and(...where, ...(cursor === null ? [] : [lt(auditLog.id, cursor)])))
    .orderBy(desc(auditLog.id))
    .limit(limit)
    .offset(offset)
    .all();
  return rows.map(({ row, sessionUser, sessionTarget }) => ({
    ...row,
    at: new Date(row.at).toISOString(),
    session: sessionUser === null || sessionTarget === null ? null : { user: sessionUser, target: sessionTarget },
  }));
}

/** `column` contains `text` literally (LIKE wildcards in the text are escaped). */
function contains(column: Column, text: string): SQL {
  const pattern = `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  return sql`${column} LIKE ${pattern} ESCAPE '\\'`;
}

export const auditRoutes = new Hono<ApiEnv>()
  .use(requirePermission('audit:view'))
  .get('/reads', validate('query', ReadsQuery), async (c) => {
    const q = c.req.valid('query');
    const where: SQL[] = [];
    if (q.session) where.push(eq(readWindows.sessionId, q.session));
    if (q.actor) where.push(eq(readWindows.actorId, q.actor));
    const rows = await database(c.env.DB)
      .select()
      .from(readWindows)
      .where(where.length > 0 ? and(...where) : undefined)
      .orderBy(desc(readWindows.lastAt))
      .limit(q.limit)
      .all();
    const iso = (ms: number) => new Date(ms).toISOString();
    return c.json({
      reads: rows.map((r) => ({
        actor: r.actorId,
        session: r.sessionId,
        kind: r.kind,
        window: iso(r.windowStart),
        firstAt: iso(r.firstAt),
        lastAt: iso(r.lastAt),
        requests: r.requests,
        bytes: r.bytes,
        byteSpan: r.lowestByte === null || r.highestByte === null ? null : { from: r.lowestByte, to: r.highestByte },
      })),
    });
  })
  .get('/', validate('query', AuditQuery), async (c) => {
    const q = c.req.valid('query');
    const rows = await auditPage(database(c.env.DB), filtersOf(q), q.cursor ?? null, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return c.json({ entries: page, nextCursor: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null });
  })
  .get('/export', validate('query', ExportQuery), async (c) => {
    const q = c.req.valid('query');
    const db = database(c.env.DB);
    const where = filtersOf(q);
    const first = q.cursor ?? null;
    // The row after this file's last, if any: the next file starts there (its cursor is one past its id).
    const [after] = await auditPage(db, where, first, 1, MAX_EXPORT_ROWS);
    const read = (cursor: number | null, limit: number) => auditPage(db, where, cursor, limit);
    // Exporting the trail is itself in it, with what was asked for.
    await audit(c, {
      action: 'audit.exported',
      details: { format: q.format, filters: { ...q, format: undefined }, complete: after === undefined },
    });
    const csv = q.format === 'csv';
    return new Response(csv ? auditCsv(read, first) : auditJson(read, first), {
      headers: {
        'content-type': csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
        'content-disposition': `attachment; filename="witness-audit-${new Date().toISOString().slice(0, 10)}.${q.format}"`,
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
        ...(after && { 'x-witness-next-cursor': String(after.id + 1) }),
      },
    });
  });
