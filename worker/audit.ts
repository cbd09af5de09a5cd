/**
 * The audit trail: who did what to which session, when, from which address. Written before the response
 * goes out, so an action the client saw succeed is always on record. Never holds a secret. The address is the
 * one client-address.ts believes, or none.
 */
import type { Context } from 'hono';
import type { AuditAction } from '../protocol/audit.ts';
import { auditLog } from '../schema/index.ts';
import type { ApiEnv, Principal } from './auth/principal.ts';
import { clientAddress } from './client-address.ts';
import { database } from '../server/db/index.ts';

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
