import { COLUMNS, EVENT_JSON } from './eventColumns.js';

/** Inputs: after (seq), limit. Output: rows of every topic with seq > after, in seq order. */
export const LIST_EVENTS = `SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;

/** As LIST_EVENTS; output: rows of `seq, json`. */
export const LIST_EVENTS_JSON = `SELECT seq, ${EVENT_JSON} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;
