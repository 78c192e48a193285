import type { BatchJobData } from '@aggregator/common';
import { UnrecoverableError } from 'bullmq';

function isEventLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.topic === 'string' &&
    typeof e.event_id === 'string' &&
    typeof e.timestamp === 'string' &&
    typeof e.source === 'string' &&
    typeof e.payload === 'object' &&
    e.payload !== null &&
    !Array.isArray(e.payload)
  );
}

/**
 * Checks the shape of a job's data. The API validated every event with the full schema; this is
 * the cheap structural check that catches a job written by something else. Bad data can never
 * succeed, so it is not retried.
 *
 * @throws UnrecoverableError
 */
export function validateJobData(data: unknown): BatchJobData {
  const d = data as Partial<BatchJobData> | null;
  if (!d || !Array.isArray(d.events) || d.events.length === 0) {
    throw new UnrecoverableError('invalid job data: expected {events: [...]} with at least one event');
  }
  const bad = d.events.findIndex((e) => !isEventLike(e));
  if (bad !== -1) throw new UnrecoverableError(`invalid job data: event ${bad} is not a valid event`);
  return d as BatchJobData;
}
