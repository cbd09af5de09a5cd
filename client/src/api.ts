/**
 * The console's calls to /api/v1, through Hono's typed client: paths, parameters, bodies and replies are
 * checked against the Worker's own routes (`AppType`). The login cookie authenticates (the browser sends it);
 * cookie-authenticated writes must also carry the login's CSRF token, which is added here and nowhere else.
 */
import { type ClientResponse, hc, type parseResponse } from 'hono/client';
import type { ApiKeyScope, Permission } from '../../protocol/permissions.ts';
import type { Policy } from '../../protocol/session.ts';
import type { AppType } from '../../worker/index.ts';
import type { ActivityPage, Density } from './activity.ts';

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
    /** Seconds, from `Retry-After` (a sign-in or request that must wait). */
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

/** `fetch` with the CSRF header on writes. */
function fetchWithCsrf(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  if (csrfToken && WRITE_METHODS.has((init.method ?? 'GET').toUpperCase())) {
    const headers = new Headers(init.headers);
    headers.set('x-csrf-token', csrfToken);
    init = { ...init, headers };
  }
  return fetch(input, init);
}

/** `/api/v1`, typed: `api.sessions[':id'].$get({ param: { id } })`. Pass the call to `call` for its body. */
export const api = hc<AppType>('/', { fetch: fetchWithCsrf }).api.v1;

/** The body of a successful reply, as the route declares it. */
type Reply<R extends ClientResponse<unknown>> = Awaited<ReturnType<typeof parseResponse<R>>>;

/** Waits for a call on `api`: its JSON body when it succeeds, else an `ApiFailure` with the API's error. */
export async function call<R extends ClientResponse<unknown>>(pending: Promise<R>): Promise<Reply<R>> {
  const res = await pending;
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
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
  return body as Reply<R>;
}

/** The success body of an `api` method. */
type Body<Method extends (...args: never[]) => Promise<ClientResponse<unknown>>> = Reply<Awaited<ReturnType<Method>>>;

// The console's names for what the routes send, inferred from the Worker so the two cannot disagree.
export type Me = Body<typeof api.auth.me.$get>;
export type LoginReply = Body<typeof api.auth.login.$post>;
export type SessionSummary = Body<typeof api.sessions.$get>['sessions'][number];
/** `GET /sessions/{id}`: the list's view plus live state while the session runs. */
export type SessionDetail = Body<(typeof api.sessions)[':id']['$get']>;
export type User = Body<typeof api.users.$get>['users'][number];
export type ApiKey = Body<typeof api.keys.$get>['keys'][number];
export type AuditEntry = Body<typeof api.audit.$get>['entries'][number];

// A session's activity. These live here rather than in activity.ts so that activity.ts, which the e2e tests
// import and type-check without the Worker's types, does not reach the Worker's routes through this module.

export function activityPage(
  sessionId: string,
  options: { cursor?: string | null; q?: string; limit: number },
): Promise<ActivityPage> {
  const params = new URLSearchParams({ limit: String(options.limit) });
  if (options.cursor) params.set('cursor', options.cursor);
  if (options.q) params.set('q', options.q);
  return call(api.sessions[':id'].activity.$get({ param: { id: sessionId }, query: Object.fromEntries(params) }));
}

export function activityDensity(sessionId: string, buckets: number): Promise<Density> {
  return call(
    api.sessions[':id'].activity.density.$get({ param: { id: sessionId }, query: { buckets: String(buckets) } }),
  );
}

export type { ApiKeyScope, Permission, Policy };
