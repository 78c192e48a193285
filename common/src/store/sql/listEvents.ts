const COLUMNS = 'topic, event_id, timestamp, source, payload, seq, processed_at';

/** Inputs: after (seq), limit. Output: rows of every topic with seq > after, in seq order. */
export const LIST_EVENTS = `SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;

/** Inputs: topic, after (seq), limit. Output: rows of one topic with seq > after, in seq order. */
export const LIST_EVENTS_OF_TOPIC = `
SELECT ${COLUMNS} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`;

/** Output: the number of stored events (checks `unique_processed`). */
export const COUNT_EVENTS = 'SELECT count(*) AS n FROM events';
