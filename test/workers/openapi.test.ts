/**
 * The OpenAPI document: public, valid, and complete. A route registered on the app without an entry in
 * worker/openapi/operations.ts fails here, as does a reply that no longer matches its documented schema.
 */
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { app } from '../../worker/index.ts';
import { routeKeys } from '../../worker/openapi/document.ts';
import { SCHEMAS } from '../../worker/openapi/schemas.ts';
import { api, connectLauncher, launch, request } from './helpers.ts';

interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string }> };
}

interface Operation {
  operationId: string;
  summary: string;
  security: unknown[];
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

async function fetchDocument(): Promise<{ res: Response; doc: Document }> {
  const res = await request('/api/v1/openapi.json');
  const text = await res.text();
  return { res, doc: JSON.parse(text) as Document };
}

function documented(doc: Document): Set<string> {
  return new Set(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
}

function operation(doc: Document, method: string, path: string): Operation {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`${method} ${path} is not documented`);
  return op;
}

/** Every `$ref` in the document, as its target path. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refs(inner, found);
    }
  }
  return found;
}

async function matches(res: Response, schema: ZodType, status = 200): Promise<void> {
  expect(res.status).toBe(status);
  const parsed = schema.safeParse(await res.json());
  expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
}

describe('GET /api/v1/openapi.json', () => {
  it('is public JSON with the required OpenAPI 3.1 fields and security schemes', async () => {
    const { res, doc } = await fetchDocument();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe('Witness API');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.components.securitySchemes).toMatchObject({
      apiKey: { type: 'http', scheme: 'bearer' },
      loginCookie: { type: 'apiKey', in: 'cookie', name: 'witness_session' },
      csrfToken: { type: 'apiKey', in: 'header', name: 'x-csrf-token' },
      ingestToken: { type: 'http', scheme: 'bearer' },
    });
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error'] });
  });

  it('documents every route registered on the app, and no route the app does not serve', async () => {
    const { doc } = await fetchDocument();
    const served = routeKeys(app.routes);
    const inDocument = documented(doc);
    const undocumented = [...served].filter((key) => !inDocument.has(key));
    const stale = [...inDocument].filter((key) => !served.has(key));
    // Add an entry to worker/openapi/operations.ts for each route listed here.
    expect(undocumented, 'routes missing from worker/openapi/operations.ts').toEqual([]);
    expect(stale, 'documented routes the app does not serve').toEqual([]);
    expect(inDocument.has('GET /api/v1/sessions/{id}')).toBe(true);
    expect(inDocument.has('PUT /ingest/v1/sessions/{id}/pieces/{seq}')).toBe(true);
  });

  it('gives every operation a unique id, its path parameters, replies and an error body', async () => {
    const { doc } = await fetchDocument();
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(ids.has(op.operationId), `${method} ${path}: duplicate operationId`).toBe(false);
        ids.add(op.operationId);
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(Array.isArray(op.security), `${method} ${path}: security`).toBe(true);
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
          expect(param?.required, `${method} ${path}: path parameter ${name}`).toBe(true);
        }
        const statuses = Object.keys(op.responses);
        expect(
          statuses.some((s) => s.startsWith('2') || s === '101'),
          `${method} ${path}: a success reply`,
        ).toBe(true);
        for (const [status, reply] of Object.entries(op.responses)) {
          expect(reply.description, `${method} ${path} ${status}`).toBeTruthy();
          if (Number(status) >= 400) {
            expect(reply.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
          }
        }
      }
    }
    for (const ref of refs(doc)) {
      expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    }
  });

  it('describes requests with the schemas the routes validate with, and who may call them', async () => {
    const { doc } = await fetchDocument();
    const list = operation(doc, 'get', '/api/v1/sessions');
    const status = list.parameters?.find((p) => p.name === 'status');
    expect(status).toMatchObject({ in: 'query', required: false, schema: { enum: ['pending', 'active', 'ended'] } });
    expect(list.parameters?.find((p) => p.name === 'limit')?.schema).toMatchObject({ maximum: 200 });
    expect(list.security).toEqual([{ apiKey: [] }, { loginCookie: [] }, { cloudflareAccess: [] }]);

    const launchBody = operation(doc, 'post', '/api/v1/launches').requestBody?.content['application/json']?.schema;
    expect(launchBody).toMatchObject({ type: 'object', required: expect.arrayContaining(['user', 'target']) });
    expect(operation(doc, 'post', '/api/v1/launches').security).toContainEqual({ loginCookie: [], csrfToken: [] });

    expect(operation(doc, 'post', '/api/v1/auth/login').security).toEqual([]);
    const piece = operation(doc, 'put', '/ingest/v1/sessions/{id}/pieces/{seq}');
    expect(piece.security).toEqual([{ ingestToken: [] }]);
    expect(piece.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:id', 'path:seq', 'header:x-witness-start-ms']),
    );
    expect(Object.keys(piece.requestBody?.content ?? {})).toContain('video/webm');
  });
});

describe('documented replies match what the API sends', () => {
  it('for launches, sessions, activity and errors', async () => {
    const launched = await launch();
    expect(SCHEMAS.LaunchReply.safeParse(launched).success).toBe(true);
    await connectLauncher(launched);
    await matches(await api('/sessions?limit=5'), SCHEMAS.SessionPage);
    await matches(await api(`/sessions/${launched.sessionId}`), SCHEMAS.Session);
    await matches(await api(`/sessions/${launched.sessionId}/activity`), SCHEMAS.ActivityPage);
    await matches(await api(`/sessions/${launched.sessionId}/activity/density?buckets=10`), SCHEMAS.Density);
    await matches(await api(`/sessions/${crypto.randomUUID()}`), SCHEMAS.Error, 404);
    await matches(await api('/sessions?limit=0'), SCHEMAS.Error, 400);
  });

  it('for the caller, settings, users, keys and the audit log', async () => {
    await matches(await api('/auth/me'), SCHEMAS.Me);
    await matches(await api('/settings/recording'), SCHEMAS.Policy);
    await matches(await api('/users'), SCHEMAS.UserList);
    const created = await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'openapi', scopes: ['read'] }) });
    await matches(created, SCHEMAS.NewKeyReply, 201);
    await matches(await api('/keys'), SCHEMAS.KeyList);
    await matches(await api('/audit?limit=5'), SCHEMAS.AuditPage);
    await matches(await api('/evidence/public-key'), SCHEMAS.PublicKeyReply);
    await matches(await request('/api/health'), SCHEMAS.Health);
  });
});
