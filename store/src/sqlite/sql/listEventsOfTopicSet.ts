import { COLUMNS, EVENT_JSON } from './eventColumns.js';

/**
 * Events of many topics in seq order, by the seq index: for patterns whose topics hold much of the
 * store (`scansSeqIndex`, ../../topicSelection.ts). Inputs: @after (seq), @limit, @set: the
 * topics as a JSON array. `+topic` keeps SQLite from reading the `(topic, seq)` index and sorting.
 */
export const LIST_EVENTS_OF_TOPIC_SET = `
SELECT ${COLUMNS} FROM events
WHERE seq > @after AND +topic IN (SELECT value FROM json_each(@set)) ORDER BY seq LIMIT @limit`;

/** As LIST_EVENTS_OF_TOPIC_SET; output: rows of `seq, json`. */
export const LIST_EVENTS_OF_TOPIC_SET_JSON = `
SELECT seq, ${EVENT_JSON} FROM events
WHERE seq > @after AND +topic IN (SELECT value FROM json_each(@set)) ORDER BY seq LIMIT @limit`;
