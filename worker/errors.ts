/** One error type for every route, and the one place that turns errors into `{error:{code,message}}`. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody } from '../protocol/ingest.ts';

/** A failure the client can act on; its code is part of the API. */
export class ApiError extends HTTPException {
  readonly code: string;

  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(status, { message });
    this.code = code;
  }
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** `app.onError`: known errors keep their status and code; anything else is logged and becomes a bare 500. */
export function onError(error: Error, c: Context): Response {
  if (error instanceof ApiError) return c.json(errorBody(error.code, error.message), error.status);
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    return c.json(errorBody(status === 400 ? 'bad_request' : 'http_error', error.message || 'request failed'), status);
  }
  console.error('unhandled error', c.req.method, new URL(c.req.url).pathname, error);
  return c.json(errorBody('internal_error', 'The server failed to handle this request.'), 500);
}

export function onNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), 404);
}
