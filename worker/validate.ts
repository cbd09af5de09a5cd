/** zod validation at the edge, answering malformed input with a 400 in the API's error shape. */
import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { ZodType } from 'zod';
import { ApiError } from './errors.ts';

/** Formats zod issues as one readable line: `field: problem; other: problem`. */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * What each `validate` middleware checks, keyed by the middleware: the OpenAPI document (worker/openapi) reads
 * the request schemas from the routes themselves, so it cannot describe input the routes do not accept.
 */
export const validatedInput = new WeakMap<object, { target: keyof ValidationTargets; schema: ZodType }>();

/** Hono validator for one request part; a failure becomes `400 {error:{code:'invalid_<target>'}}`. */
export function validate<Target extends keyof ValidationTargets, Schema extends ZodType>(
  target: Target,
  schema: Schema,
) {
  const middleware = zValidator(target, schema, (result) => {
    if (!result.success) throw new ApiError(400, `invalid_${target}`, describeIssues(result.error.issues));
  });
  validatedInput.set(middleware, { target, schema });
  return middleware;
}
