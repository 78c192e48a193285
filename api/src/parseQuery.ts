import { InvalidQueryError } from '@aggregator/common';
import type { z } from 'zod';

/**
 * Parses a query string with `schema`.
 *
 * @throws InvalidQueryError (400 `invalid_query`) naming the first bad parameter, with every issue in `details`
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = details[0];
  throw new InvalidQueryError(`invalid query parameter ${first?.path}: ${first?.message}`, details);
}
