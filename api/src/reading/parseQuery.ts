import type { z } from 'zod';
import { InvalidQueryError } from '../http/appErrors.js';

/**
 * Parses a request's query with `schema`, or throws InvalidQueryError (400 `invalid_query`) whose
 * message names the first bad parameter and whose details list them all.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = details[0];
  throw new InvalidQueryError(`invalid query parameter ${first?.path}: ${first?.message}`, details);
}

/** `Link: <path?params>; rel="next"` for the page after this one; undefined params are left out. */
export function nextPageLink(path: string, params: Record<string, string | number | undefined>): string {
  const next = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) next.set(name, String(value));
  return `<${path}?${next.toString()}>; rel="next"`;
}
