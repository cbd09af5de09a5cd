/**
 * The console's calls to /api/v1. The login cookie authenticates (the browser sends it); cookie-authenticated
 * writes must also carry the login's CSRF token, which is added here and nowhere else.
 */
import type { ApiKeyScope, Permission } from '../../protocol/permissions.ts';
import type { Policy } from '../../protocol/session.ts';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Codes meaning "no valid login": the console goes back to the sign-in page. */
const SIGNED_OUT_CODES = new Set(['login_expired', 'unauthenticated']);

let csrfToken: string | null = null;
let onSignedOut: (failure: ApiFailure) => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when any request finds the login gone (expired, revoked, signed out elsewhere). */
export function whenSignedOut(listener: (failure: ApiFailure) => void): void {
  onSignedOut = listener;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from `Retry-After` (a locked account). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

/** A sentence for the page: what went wrong, said plainly. */
export function describeFailure(error: unknown): string {
  if (error instanceof ApiFailure && error.code === 'forbidden')
    return `You are not allowed to do this. ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

export async function request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers = new Headers();
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  if (WRITE_METHODS.has(method) && csrfToken) headers.set('x-csrf-token', csrfToken);
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
  const body = (await res.json().catch(() => null)) as (T & { error?: { code: string; message: string } }) | null;
  if (!res.ok) {
    const retryAfter = Number(res.headers.get('retry-after'));
    const failure = new ApiFailure(
      res.status,
      body?.error?.code ?? 'http_error',
      body?.error?.message ?? `${res.status} ${res.statusText}`,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
    if (res.status === 401 && SIGNED_OUT_CODES.has(failure.code)) onSignedOut(failure);
    throw failure;
  }
  return body as T;
}

export interface Me {
  kind: 'user' | 'api-key' | 'bootstrap';
  name: string;
  permissions: Permission[];
  csrfToken: string | null;
  mustChangePassword: boolean;
}

export interface LoginReply {
  user: { id: string; username: string; displayName: string; permissions: Permission[]; mustChangePassword: boolean };
  csrfToken: string;
}

export interface SessionSummary {
  id: string;
  user: string;
  target: string;
  protocol: string;
  status: 'pending' | 'active' | 'ended';
  endReason: string | null;
  startedAt: string | null;
  durationMs: number | null;
  recording: { status: string; url: string | null; bytes: number };
}

/** `GET /sessions/{id}`: the list's view plus what only the session's detail carries. */
export interface SessionDetail extends SessionSummary {
  endedAt: string | null;
  recording: SessionSummary['recording'] & { mediaDurationMs: number | null; pieces: number };
  live: { launcherConnected: boolean; viewers: Array<{ id: string; name: string; since: string }> } | null;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  permissions: Permission[];
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  host: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actorKind: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: unknown;
}

export type { ApiKeyScope, Permission, Policy };
