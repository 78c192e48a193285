import { COLUMNS, EVENT_JSON } from './eventColumns.js';

/** Inputs: topic, after (seq), limit. Output: rows of one topic with seq > after, in seq order. */
export const LIST_EVENTS_OF_TOPIC = `
SELECT ${COLUMNS} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`;

/** As LIST_EVENTS_OF_TOPIC; output: rows of `seq, json`. */
export const LIST_EVENTS_OF_TOPIC_JSON = `
SELECT seq, ${EVENT_JSON} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`;
