/**
 * `GET /api/v1/openapi.json`, public: it describes the API, not any data, and tools (Swagger UI, client
 * generators) fetch it without credentials. Built once per isolate from the app's own routes.
 */
import type { Context } from 'hono';
import app from '../index.ts';
import { openApiDocument } from './document.ts';

let cached: string | null = null;

export function serveOpenApi(c: Context): Response {
  // `app` is read here, at request time: this module and worker/index.ts import each other.
  cached ??= JSON.stringify(openApiDocument(app.routes));
  return c.body(cached, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
}
