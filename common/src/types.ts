/**
 * Shared types of the pipeline.
 *
 * Glossary
 * - event: one fact a producer publishes, `{topic, event_id, timestamp, source, payload}`.
 * - pair: the identity of an event, `(topic, event_id)`. Two events with the same pair are the same
 *   event, whatever their other fields say; the first one stored wins.
 * - batch: the validated events of one publish request, or of one chunk of a large request.
 * - job: a BullMQ job carrying one batch; the unit of queue work, retried as a whole.
 * - attempt: one run of a job by a worker. A job may be attempted several times (crash, outage).
 * - duplicate: an event whose pair is already in the store. It is counted in `duplicate_dropped`
 *   and never written again.
 * - fast path: a Redis check that lets a worker skip events whose rows are already committed,
 *   before it asks the store. It may only ever skip committed rows.
 * - store: the authoritative record of unique events and counters: SQLite (embedded, the default)
 *   or PostgreSQL, behind one interface (package `@aggregator/store`).
 */

/** A JSON value as `JSON.parse` produces it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: the only shape a payload may take. */
export type JsonObject = { [key: string]: JsonValue };

/** One validated event, as enqueued and as stored. */
export interface Event {
  topic: string;
  event_id: string;
  /** RFC 3339 date-time with `Z` or an offset, kept exactly as the producer sent it. */
  timestamp: string;
  source: string;
  payload: JsonObject;
}

/** An event as the store returns it. */
export interface StoredEvent extends Event {
  /** Position in processing order; strictly increasing, never reused. */
  seq: number;
  /** When the store committed the event (ISO 8601, UTC). */
  processed_at: string;
}

/** The exact counters. At rest, `received === unique_processed + duplicate_dropped`. */
export interface Counters {
  received: number;
  unique_processed: number;
  duplicate_dropped: number;
}

/** The store's counters plus what identifies the store. */
export interface StoreCounters extends Counters {
  /** Random id of this database; the Redis counters carry it, so a new database resets them. */
  store_id: string;
  /** When the service was first started on this store (epoch ms). */
  created_at: number;
}

/** The data of one queue job. */
export interface BatchJobData {
  events: Event[];
  /** Epoch milliseconds at which the API accepted the batch (for lag metrics). */
  acceptedAt: number;
}
