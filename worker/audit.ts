/**
 * The audit trail: who did what to which session, when, from which address. Written before the response
 * goes out, so an action the client saw succeed is always on record. Never holds a secret. The address is the
 * one client-address.ts believes, or none.
 */
import type { Context } from 'hono';
import type { AuditAction } from '../protocol/audit.ts';
import { auditLog, readWindows } from '../schema/index.ts';
import { sql } from 'drizzle-orm';
import type { ApiEnv, Principal } from './auth/principal.ts';
import { clientAddress } from './client-address.ts';
import { type Database, database } from '../server/db/index.ts';

export type { AuditAction };

export interface AuditEntry {
  action: AuditAction;
  target?: { type: string; id: string };
  details?: Record<string, unknown>;
  /** Who, when no principal is set yet (a login attempt). */
  actor?: { kind: Principal['kind']; id: string | null; name: string };
}

export async function audit(c: Context<ApiEnv>, entry: AuditEntry): Promise<void> {
  const actor = entry.actor ?? c.get('principal');
  await database(c.env.DB)
    .insert(auditLog)
    .values({
      at: Date.now(),
      actorKind: actor.kind,
      actorId: actor.id,
      actorName: actor.name,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target?.id ?? null,
      ip: clientAddress(c),
      userAgent: c.req.header('user-agent')?.slice(0, 300) ?? null,
      details: entry.details ?? null,
    })
    .run();
}

const HOUR_MS = 3_600_000;

/** One read of a session's recorded data. */
export interface ReadEntry {
  action: Extract<
    AuditAction,
    'recording.viewed' | 'recording.downloaded' | 'evidence.downloaded' | 'activity.viewed' | 'processing.source_read'
  >;
  sessionId: string;
  /** Reads of one kind are counted together: `recording`, `recording-download`, `evidence`, `activity`, `density`. */
  kind: string;
  /** Bytes served, and which (a Range), when it is a file. */
  bytes?: number;
  range?: { from: number; to: number } | null;
  details?: Record<string, unknown>;
}

/**
 * Audits a read once per principal, session, kind and hour: every read is counted in `read_windows` (requests,
 * bytes, the byte span asked for), and the first of its hour writes the one audit row, naming the window. Any
 * Range counts the same as a read from the start: there is no way to read unaudited.
 */
export async function auditRead(c: Context<ApiEnv>, read: ReadEntry): Promise<void> {
  const actor = c.get('principal');
  const now = Date.now();
  const windowStart = Math.floor(now / HOUR_MS) * HOUR_MS;
  const bytes = read.bytes ?? 0;
  const [counted] = await database(c.env.DB)
    .insert(readWindows)
    .values({
      actorId: `${actor.kind}:${actor.id ?? actor.name}`,
      sessionId: read.sessionId,
      kind: read.kind,
      windowStart,
      firstAt: now,
      lastAt: now,
      requests: 1,
      bytes,
      lowestByte: read.range?.from ?? null,
      highestByte: read.range?.to ?? null,
    })
    .onConflictDoUpdate({
      target: [readWindows.actorId, readWindows.sessionId, readWindows.kind, readWindows.windowStart],
      set: {
        lastAt: now,
        requests: sql`${readWindows.requests} + 1`,
        bytes: sql`${readWindows.bytes} + ${bytes}`,
        lowestByte: sql`min(coalesce(${readWindows.lowestByte}, ${read.range?.from ?? null}), coalesce(${read.range?.from ?? null}, ${readWindows.lowestByte}))`,
        highestByte: sql`max(coalesce(${readWindows.highestByte}, ${read.range?.to ?? null}), coalesce(${read.range?.to ?? null}, ${readWindows.highestByte}))`,
      },
    })
    .returning({ requests: readWindows.requests });
  if (counted?.requests !== 1) return;
  await audit(c, {
    action: read.action,
    target: { type: 'session', id: read.sessionId },
    details: {
      ...read.details,
      // Further reads this hour are counted, not written again: GET /api/v1/audit/reads has the totals.
      window: { kind: read.kind, from: new Date(windowStart).toISOString(), hours: 1 },
    },
  });
}

/** Who acts when the server acts on its own (the retention sweep): no principal, no address. */
export const RETENTION_ACTOR = { kind: 'system', id: null, name: 'retention' } as const;

/** Audit rows the server writes on its own, outside a request (worker/retention/); all in one batch. */
export async function auditSystem(
  db: Database,
  entries: ReadonlyArray<Pick<AuditEntry, 'action' | 'target' | 'details'>>,
): Promise<void> {
  const rows = entries.map((entry) => ({
    at: Date.now(),
    actorKind: RETENTION_ACTOR.kind,
    actorId: RETENTION_ACTOR.id,
    actorName: RETENTION_ACTOR.name,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    ip: null,
    userAgent: null,
    details: entry.details ?? null,
  }));
  // 10 columns a row: 9 rows stay under D1's 100 bound parameters a statement.
  for (let i = 0; i < rows.length; i += 9) {
    await db
      .insert(auditLog)
      .values(rows.slice(i, i + 9))
      .run();
  }
}
