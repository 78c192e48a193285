import { HEAD } from './visibleHead.js';

export const COLUMNS = 'topic, event_id, timestamp, source, payload, seq, processed_at';

/**
 * Inputs: $1 after (seq), $2 limit. Output: rows of every topic with seq > after, in seq order, up
 * to the visible head (./visibleHead.ts): a row above it may still be joined by one below it.
 */
export const LIST_EVENTS = `SELECT ${COLUMNS} FROM events WHERE seq > $1 AND seq <= ${HEAD} ORDER BY seq LIMIT $2`;

/** Inputs: $1 topic, $2 after (seq), $3 limit. Output: rows of one topic with seq > after, in seq order. */
export const LIST_EVENTS_OF_TOPIC = `
SELECT ${COLUMNS} FROM events WHERE topic = $1 AND seq > $2 AND seq <= ${HEAD} ORDER BY seq LIMIT $3`;

/**
 * One event as the JSON object `GET /events` returns, built by PostgreSQL: strings quoted by
 * `to_json`, the payload spliced in as the JSON text it was stored as (as SQLite does it, see
 * ../../sqlite/sql/eventColumns.ts).
 */
export const EVENT_JSON = `'{"topic":' || to_json(topic)::text || ',"event_id":' || to_json(event_id)::text ||
  ',"timestamp":' || to_json(timestamp)::text || ',"source":' || to_json(source)::text ||
  ',"payload":' || payload || ',"seq":' || seq || ',"processed_at":' || to_json(processed_at)::text || '}'`;

/** As LIST_EVENTS; output: rows of `seq, json`. */
export const LIST_EVENTS_JSON = `SELECT seq, ${EVENT_JSON} AS json FROM events WHERE seq > $1 AND seq <= ${HEAD} ORDER BY seq LIMIT $2`;

/** As LIST_EVENTS_OF_TOPIC; output: rows of `seq, json`. */
export const LIST_EVENTS_OF_TOPIC_JSON = `
SELECT seq, ${EVENT_JSON} AS json FROM events WHERE topic = $1 AND seq > $2 AND seq <= ${HEAD} ORDER BY seq LIMIT $3`;

/** Output: `n`, the number of stored events (checks `unique_processed`). */
export const COUNT_EVENTS = 'SELECT count(*)::bigint AS n FROM events';
