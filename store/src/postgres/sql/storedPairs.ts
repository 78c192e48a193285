/**
 * Inputs: $1 topics, $2 event ids (text[], pairwise). Output: `topic, event_id` of each pair that
 * is already stored (one primary-key probe per pair).
 */
export const FIND_STORED_PAIRS = `
SELECT e.topic, e.event_id
FROM unnest($1::text[], $2::text[]) AS wanted (topic, event_id)
JOIN events AS e ON e.topic = wanted.topic AND e.event_id = wanted.event_id`;
