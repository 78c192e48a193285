import { z } from 'zod';
import type { Event, JsonObject } from './types.js';

/** The deepest nesting a payload may have; deeper values could overflow the stack when serialised. */
export const MAX_PAYLOAD_DEPTH = 64;

// C0 and C1 control characters have no business in identifiers and break logs and terminals.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * An identifier field (`topic`, `event_id`, `source`): 1–255 characters (Unicode code points, as
 * zod counts them), not blank, no control characters, and well-formed Unicode. Lone surrogates are
 * refused because UTF-8 (in Redis and SQLite) would turn distinct ones into the same bytes, and two
 * pairs must never collide.
 */
export const identifier = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .max(255, 'must be at most 255 characters')
  .refine((s) => s.trim().length > 0, 'must not be empty or blank')
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters')
  .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What one walk over a parsed JSON value found. */
export interface JsonShape {
  /** Nesting depth, counted up to `limit + 1` (the walk stops there: deeper is too deep). */
  depth: number;
  /**
   * A number that is not finite. JSON.parse reads a number beyond the range of a double (`1e400`)
   * as Infinity, which JSON.stringify would store as `null`: such a payload is refused rather than
   * stored changed.
   */
  nonFinite: boolean;
}

/** Walks a parsed JSON value once, without recursion, for its depth and any non-finite number. */
export function inspectJson(value: unknown, limit: number): JsonShape {
  const shape: JsonShape = { depth: 0, nonFinite: false };
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) shape.nonFinite = true;
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > shape.depth) shape.depth = depth;
    if (shape.depth > limit) return shape;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return shape;
}

// The payload is checked in place, never rebuilt: copying keys into a new object would let a
// `__proto__` key change the copy's prototype instead of staying data.
const payload = z.custom<JsonObject>(isJsonObject, 'must be a JSON object').superRefine((p, ctx) => {
  const shape = inspectJson(p, MAX_PAYLOAD_DEPTH);
  if (shape.depth > MAX_PAYLOAD_DEPTH) {
    ctx.addIssue({ code: 'custom', message: `must not be nested deeper than ${MAX_PAYLOAD_DEPTH} levels` });
  }
  if (shape.nonFinite) {
    ctx.addIssue({ code: 'custom', message: 'must not hold a number beyond the range of a double (about ±1.8e308)' });
  }
});

const DATETIME_OPTIONS = { offset: true } as const;

/** One event. Unknown top-level fields are dropped. */
export const eventSchema = z.object({
  topic: identifier,
  event_id: identifier,
  timestamp: z.iso.datetime({
    ...DATETIME_OPTIONS,
    error: (issue) =>
      issue.input === undefined
        ? 'is required'
        : 'must be an RFC 3339 date-time with Z or an offset, e.g. 2025-01-31T12:00:00Z',
  }),
  source: identifier,
  payload: payload.default(() => ({})),
});

// The fast accept path below repeats the schema's rules as plain checks; `eventSchema` stays the
// definition (it writes the error messages and the OpenAPI document), and a property test holds the
// two to the same verdict on hostile input (test/hostile.test.ts).
const DATETIME = z.regexes.datetime(DATETIME_OPTIONS);

/** Code points in `s`, counted only past 255 UTF-16 units (a surrogate pair is one character). */
function atMost255Characters(s: string): boolean {
  if (s.length <= 255) return true;
  let characters = 0;
  for (const _ of s) if (++characters > 255) return false;
  return true;
}

function isIdentifier(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    atMost255Characters(value) &&
    value.trim().length > 0 &&
    !CONTROL_CHARS.test(value) &&
    value.isWellFormed()
  );
}

/**
 * `eventSchema`'s verdict and output for a valid event, about five times faster (validation was
 * the largest part of the API's CPU per event in batch publishes); undefined when the event is
 * invalid, and then only `eventSchema` says why.
 */
export function acceptEvent(value: unknown): Event | undefined {
  if (!isJsonObject(value)) return undefined;
  const { topic, event_id, timestamp, source, payload } = value;
  if (!isIdentifier(topic) || !isIdentifier(event_id) || !isIdentifier(source)) return undefined;
  if (typeof timestamp !== 'string' || !DATETIME.test(timestamp)) return undefined;
  if (payload === undefined) return { topic, event_id, timestamp, source, payload: {} };
  if (!isJsonObject(payload)) return undefined;
  const shape = inspectJson(payload, MAX_PAYLOAD_DEPTH);
  if (shape.depth > MAX_PAYLOAD_DEPTH || shape.nonFinite) return undefined;
  return { topic, event_id, timestamp, source, payload };
}
