import { acceptEvent, type Event, eventSchema, isJsonObject } from '@aggregator/common';
import type { z } from 'zod';
import { BatchTooLargeError, ValidationError, type ValidationIssue } from '../http/appErrors.js';

/** Reported issues are capped so that a 10,000-event batch of garbage gives a readable reply. */
const MAX_REPORTED_ISSUES = 100;

/** Where validation found a problem: the event's index in the batch and the field path. */
function toIssues(index: number, error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    index,
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/**
 * Pulls the list of candidate events out of a publish body: one event, a JSON array of events, or
 * `{"events": [...]}`.
 */
function candidates(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (isJsonObject(body) && Array.isArray(body.events) && !('topic' in body)) return body.events;
  if (isJsonObject(body)) return [body];
  throw new ValidationError('the body must be an event, an array of events or {"events": [...]}', [
    { index: null, path: '', message: `expected an object or an array, got ${jsonTypeOf(body)}` },
  ]);
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Validates a whole publish body, all or nothing.
 *
 * @param body - the parsed JSON body
 * @param maxBatch - the most events one request may carry
 * @returns the validated events, in request order
 * @throws ValidationError (422) listing every invalid event (capped at 100 issues); the batch is
 *   rejected whole. BatchTooLargeError (413) when the body carries more than `maxBatch` events.
 */
export function parsePublishBody(body: unknown, maxBatch: number): Event[] {
  const items = candidates(body);
  if (items.length === 0) {
    throw new ValidationError('the batch is empty: send at least one event', [
      { index: null, path: '', message: 'expected at least one event' },
    ]);
  }
  if (items.length > maxBatch) throw new BatchTooLargeError(items.length, maxBatch);

  const events: Event[] = new Array(items.length);
  const issues: ValidationIssue[] = [];
  let invalid = 0;
  for (let i = 0; i < items.length; i++) {
    const accepted = acceptEvent(items[i]);
    if (accepted) {
      events[i] = accepted;
      continue;
    }
    const result = eventSchema.safeParse(items[i]);
    if (result.success) {
      events[i] = result.data; // unreachable while the fast path agrees with the schema
    } else {
      invalid++;
      if (issues.length < MAX_REPORTED_ISSUES) issues.push(...toIssues(i, result.error));
    }
  }
  if (invalid > 0) {
    const shown = issues.slice(0, MAX_REPORTED_ISSUES);
    // "1 of 1 event is", "1 of 4 events is", "3 of 4 events are": the noun counts the batch, the
    // verb the invalid ones.
    const noun = items.length === 1 ? 'event' : 'events';
    const verb = invalid === 1 ? 'is' : 'are';
    throw new ValidationError(
      `${invalid} of ${items.length} ${noun} ${verb} invalid; nothing was accepted` +
        (issues.length > shown.length ? ` (first ${shown.length} issues shown)` : ''),
      shown,
    );
  }
  return events;
}
