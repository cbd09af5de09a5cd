/**
 * Builds the OpenAPI 3.1 document (`GET /api/v1/openapi.json`) from the app's registered routes: request
 * schemas are the zod schemas the routes validate with (found through `validatedInput`), converted with zod's
 * own `z.toJSONSchema`; summaries, access and replies come from OPERATIONS.
 */
import type { RouterRoute } from 'hono/types';
import { type ZodType, z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { ACCESS_JWT_HEADER } from '../auth/access.ts';
import { CSRF_HEADER, SESSION_COOKIE } from '../auth/principal.ts';
import { validatedInput } from '../validate.ts';
import { type Access, OPERATIONS, type Operation } from './operations.ts';
import { SCHEMAS } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `/sessions/:id/pieces/:seq` → `/sessions/{id}/pieces/{seq}` (a Hono `{regex}` suffix is dropped). */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');
}

/** The operations the app really serves, as `METHOD /openapi/path` (middleware, `ALL`, is not one). */
export function routeKeys(routes: readonly RouterRoute[]): Set<string> {
  return new Set(routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${openApiPath(r.path)}`));
}

function jsonSchema(schema: ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Which request parts each route validates, and with what. */
function validatorsByRoute(routes: readonly RouterRoute[]): Map<string, Array<{ target: string; schema: ZodType }>> {
  const found = new Map<string, Array<{ target: string; schema: ZodType }>>();
  for (const route of routes) {
    const input = validatedInput.get(route.handler);
    if (!input || route.method === 'ALL') continue;
    const key = `${route.method} ${openApiPath(route.path)}`;
    found.set(key, [...(found.get(key) ?? []), input]);
  }
  return found;
}

const PARAMETER_IN: Record<string, 'path' | 'query' | 'header' | 'cookie'> = {
  param: 'path',
  query: 'query',
  header: 'header',
  cookie: 'cookie',
};

/** An object schema's properties as OpenAPI parameters. */
function parameters(where: 'path' | 'query' | 'header' | 'cookie', schema: ZodType): JsonSchema[] {
  const object = jsonSchema(schema, 'input');
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function errorReply(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

/** Errors every route of a kind may answer, before its own. */
function commonErrors(access: Access, validates: boolean, write: boolean): Record<number, string> {
  const errors: Record<number, string> = {};
  if (validates) errors[400] = 'Malformed input: `invalid_param`, `invalid_query`, `invalid_json`, … with the problem.';
  if (access === 'api') {
    errors[401] = 'No valid credentials (`unauthenticated`, `invalid_api_key`, `login_expired`, …).';
    errors[403] = write
      ? 'The caller lacks the permission (`forbidden`), or a cookie write lacks `x-csrf-token` (`csrf_failed`).'
      : 'The caller lacks the permission (`forbidden`).';
    if (write) errors[413] = 'The body is larger than 64 KiB.';
  }
  if (access === 'ingest') {
    errors[401] = 'The ingest token is missing, invalid or expired.';
    errors[403] = 'The token belongs to another session.';
    errors[429] = 'Too many ingest requests for this session.';
  }
  errors[500] = 'The server failed (`internal_error`); nothing more is said.';
  return errors;
}

function security(access: Access, write: boolean): Array<Record<string, string[]>> {
  if (access === 'public') return [];
  if (access === 'ingest') return [{ ingestToken: [] }];
  const csrf: Record<string, string[]> = write ? { csrfToken: [] } : {};
  return [{ apiKey: [] }, { loginCookie: [], ...csrf }, { cloudflareAccess: [], ...csrf }];
}

function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v1\//, '/')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

function describeOperation(
  method: string,
  path: string,
  op: Operation,
  validators: Array<{ target: string; schema: ZodType }>,
) {
  const write = WRITE_METHODS.has(method);
  const params: JsonSchema[] = [];
  let requestBody: unknown;
  for (const { target, schema } of validators) {
    const where = PARAMETER_IN[target];
    if (where) params.push(...parameters(where, schema));
    else if (target === 'json') {
      requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(schema, 'input') } } };
    }
  }
  if (op.headers) params.push(...parameters('header', op.headers));
  // A path parameter the route reads without validating still has to be declared.
  for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
    if (!params.some((p) => p.in === 'path' && p.name === name)) {
      params.push({ name, in: 'path', required: true, schema: { type: 'string' } });
    }
  }
  if (op.body) {
    const schema = op.body.schema ? jsonSchema(op.body.schema, 'input') : { type: 'string', format: 'binary' };
    requestBody = {
      required: true,
      description: op.body.description,
      content: Object.fromEntries(op.body.mediaTypes.map((type) => [type, { schema }])),
    };
  }
  const responses: Record<string, unknown> = {};
  for (const [status, reply] of Object.entries(op.replies)) {
    const content = reply.json
      ? { 'application/json': { schema: { $ref: `#/components/schemas/${reply.json}` } } }
      : reply.media
        ? Object.fromEntries(
            Object.entries(reply.media).map(([type, what]) => [
              type,
              { schema: { type: 'string', format: 'binary', description: what } },
            ]),
          )
        : undefined;
    const headers = reply.headers
      ? Object.fromEntries(
          Object.entries(reply.headers).map(([name, d]) => [name, { description: d, schema: { type: 'string' } }]),
        )
      : undefined;
    responses[status] = { description: reply.description, ...(content && { content }), ...(headers && { headers }) };
  }
  const errors = { ...commonErrors(op.access, validators.length > 0 || Boolean(op.body), write), ...op.errors };
  for (const [status, description] of Object.entries(errors)) responses[status] = errorReply(description);
  const needs = [op.permission ?? []].flat().map((p) => `\`${p}\``);
  const permission = needs.length > 0 ? `\n\nNeeds the ${needs.join(' or the ')} permission.` : '';
  return {
    operationId: operationId(method, path),
    summary: op.summary,
    ...(op.description || permission ? { description: `${op.description ?? ''}${permission}`.trim() } : {}),
    tags: [op.tag],
    security: security(op.access, write),
    ...(op.permission ? { 'x-witness-permission': op.permission } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The document for these routes; only routes with an OPERATIONS entry appear (the test checks they all do). */
export function openApiDocument(routes: readonly RouterRoute[]): OpenApiDocument {
  const validators = validatorsByRoute(routes);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [method = '', path = ''] = key.split(' ');
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = describeOperation(method, path, op, validators.get(key) ?? []);
  }
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  // Components are addressed by their place in this document, not by an `$id` of their own.
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Witness API',
      version: packageJson.version,
      description:
        'Privileged-session recording: launch sessions, list and search them, watch live, terminate, play and ' +
        'verify recordings (`/api/v1`), and the launcher ingest protocol (`/ingest/v1`, docs/ingest-protocol.md). ' +
        'Errors are always JSON `{error: {code, message}}`.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(Object.values(OPERATIONS).map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (`wk_…`, created under Keys) or the bootstrap key from WITNESS_API_KEY.',
        },
        loginCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'The console’s login, set by `POST /api/v1/auth/login`.',
        },
        csrfToken: {
          type: 'apiKey',
          in: 'header',
          name: CSRF_HEADER,
          description:
            'With the login cookie or Cloudflare Access, writes (POST, PUT, PATCH, DELETE) must also send the ' +
            'login’s CSRF token (from `/auth/login` or `/auth/me`).',
        },
        cloudflareAccess: {
          type: 'apiKey',
          in: 'header',
          name: ACCESS_JWT_HEADER,
          description:
            'Added by Cloudflare Access when ACCESS_TEAM_DOMAIN and ACCESS_AUD are set (docs/access-control.md).',
        },
        ingestToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'ingest token',
          description:
            'The token `POST /api/v1/launches` returned, for that session only (renewed over the control socket).',
        },
      },
    },
  };
}
