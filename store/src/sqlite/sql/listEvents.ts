export const COLUMNS = 'topic, event_id, timestamp, source, payload, seq, processed_at';

/** Inputs: after (seq), limit. Output: rows of every topic with seq > after, in seq order. */
export const LIST_EVENTS = `SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;

/** Inputs: topic, after (seq), limit. Output: rows of one topic with seq > after, in seq order. */
export const LIST_EVENTS_OF_TOPIC = `
SELECT ${COLUMNS} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`;

/**
 * One event as the JSON object `GET /events` returns, built by SQLite: strings quoted with
 * `json_quote`, the payload spliced in as the JSON text it was stored as. Building it in SQL
 * instead of materialising a JS object per row and stringifying its fields halves the API's CPU
 * per page.
 */
export const EVENT_JSON = `'{"topic":' || json_quote(topic) || ',"event_id":' || json_quote(event_id) ||
  ',"timestamp":' || json_quote(timestamp) || ',"source":' || json_quote(source) ||
  ',"payload":' || payload || ',"seq":' || seq || ',"processed_at":' || json_quote(processed_at) || '}'`;

/** As LIST_EVENTS; output: rows of `seq, json`. */
export const LIST_EVENTS_JSON = `SELECT seq, ${EVENT_JSON} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;

/** As LIST_EVENTS_OF_TOPIC; output: rows of `seq, json`. */
export const LIST_EVENTS_OF_TOPIC_JSON = `
SELECT seq, ${EVENT_JSON} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`;

/** Output: the number of stored events (checks `unique_processed`). */
export const COUNT_EVENTS = 'SELECT count(*) AS n FROM events';
