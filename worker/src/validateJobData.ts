import { acceptEvent, type BatchJobData, type Event, eventSchema, isJsonObject } from '@aggregator/common';
import { UnrecoverableError } from 'bullmq';

/** Issues named in the error of one bad job; the rest are counted. */
const MAX_REPORTED = 5;

/**
 * Checks a job's data with the API's own event schema before anything is stored. The API only
 * enqueues valid events, but the queue has other writers: the queue UI's "add job", a script with
 * Redis access, an older API. A job that fails here could never succeed, so it is not retried: it
 * stays in the queue as failed, with the reason, and nothing of it is stored.
 *
 * @returns the job's data with each event as the schema outputs it (unknown fields dropped, a
 *   missing payload `{}`), exactly what the API would have enqueued
 * @throws UnrecoverableError naming the invalid events and why
 */
export function validateJobData(data: unknown): BatchJobData {
  if (!isJsonObject(data) || !Array.isArray(data.events) || data.events.length === 0) {
    throw new UnrecoverableError('invalid job data: expected {events: [...]} with at least one event');
  }
  const events: Event[] = [];
  const problems: string[] = [];
  let invalid = 0;
  for (const [index, candidate] of (data.events as unknown[]).entries()) {
    // The API's fast accept first; the schema only for its verdict's reason.
    const accepted = acceptEvent(candidate);
    const result = accepted ? undefined : eventSchema.safeParse(candidate);
    const event = accepted ?? result?.data;
    if (event) {
      events.push(event);
      continue;
    }
    invalid++;
    const issue = result?.error?.issues[0];
    if (problems.length < MAX_REPORTED) {
      problems.push(`event ${index}${issue?.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue?.message}`);
    }
  }
  if (invalid > 0) {
    const more = invalid > problems.length ? `; and ${invalid - problems.length} more` : '';
    throw new UnrecoverableError(
      `invalid job data: ${invalid} of ${data.events.length} events fail the event schema (${problems.join('; ')}${more})`,
    );
  }
  const acceptedAt = typeof data.acceptedAt === 'number' ? data.acceptedAt : Date.now();
  return { events, acceptedAt };
}
