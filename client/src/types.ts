/**
 * The shapes the client sends and receives. They mirror the zod schemas the API validates with
 * (`eventSchema`, `storedEventSchema`, `publishReplySchema` in @aggregator/common), which this
 * package does not import: they pull in Node-only code. test/client/clientTypes.test.ts holds the
 * two to the same shape, and the OpenAPI document to the same fields, so they cannot drift.
 *
 * Glossary:
 * - event: what a producer publishes, identified by `(topic, event_id)`.
 * - stored event: an event as the store returns it, with its `seq` (position in processing order).
 * - batch: the events of one `POST /publish` request; accepted or refused as a whole.
 * - attempt: one HTTP request; a request is retried in new attempts until it has an outcome.
 * - outcome: what finally happened to one event (accepted, rejected, or failed).
 */

/** A JSON value, as a payload may hold it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: an event's payload. */
export type JsonObject = { [key: string]: JsonValue };

/** One event as published (`POST /publish`). */
export interface PublishEvent {
  /** Dot-separated segments (`eu.orders.created`); 1–255 characters. */
  topic: string;
  /** Unique within the topic; a second event with the same pair is a duplicate. See `eventId()`. */
  event_id: string;
  /** RFC 3339 date-time with `Z` or an offset. */
  timestamp: string;
  /** Who produced it; 1–255 characters. */
  source: string;
  /** Stored and returned as sent; `{}` when absent. */
  payload?: JsonObject;
}

/** One event as the store returns it (`GET /events`, `GET /events/stream`). */
export interface StoredEvent {
  topic: string;
  event_id: string;
  timestamp: string;
  source: string;
  payload: JsonObject;
  /** Position in processing order; strictly increasing. */
  seq: number;
  /** When the store committed it (UTC, RFC 3339). */
  processed_at: string;
}

/** `200` from `POST /publish`. */
export interface PublishReply {
  /** Events durably enqueued, duplicates included. */
  accepted: number;
}

/** The body of every error reply of the API. */
export interface ErrorReply {
  error: { code: string; message: string; details?: unknown };
}

/** Which events a read selects: one topic, the topics a pattern matches, or (neither) every topic. */
export type TopicSelector =
  | { topic: string; topicPattern?: never }
  | { topicPattern: string; topic?: never }
  | {
      topic?: never;
      topicPattern?: never;
    };

/** The fields of an event as published, in the order of the schema; checked against the API's schema. */
export const EVENT_FIELDS = ['topic', 'event_id', 'timestamp', 'source', 'payload'] as const;

/** The fields of a stored event; checked against the API's schema. */
export const STORED_EVENT_FIELDS = [...EVENT_FIELDS, 'seq', 'processed_at'] as const;

/**
 * The API's error codes the client acts on: a `422 validation_failed` names the invalid events of
 * a batch; a stream's final `stream_fell_behind` is the caller's to handle, `shutting_down` and
 * `store_unavailable` only call for a reconnect. Checked against the API's list of codes.
 */
export const HANDLED_ERROR_CODES = {
  validationFailed: 'validation_failed',
  streamFellBehind: 'stream_fell_behind',
  shuttingDown: 'shutting_down',
  storeUnavailable: 'store_unavailable',
} as const;
