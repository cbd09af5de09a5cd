/**
 * `GET /api/v1/openapi.json`, public: it describes the API, not any data, and tools (Swagger UI, client
 * generators) fetch it without credentials. Built once per isolate from the app's own routes, which the app
 * hands in (this module does not import the app).
 */
import type { Context } from 'hono';
import type { RouterRoute } from 'hono/types';
import { openApiDocument } from './document.ts';

/** The handler, given how to read the app's routes (at request time, once the app is built). */
export function serveOpenApi(routes: () => readonly RouterRoute[]): (c: Context) => Response {
  let cached: string | null = null;
  return (c) => {
    cached ??= JSON.stringify(openApiDocument(routes()));
    return c.body(cached, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
  };
}
