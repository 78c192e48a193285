/**
 * Inputs: $1 topics, $2 event ids (text[], pairwise). Output: `topic, event_id` of each pair that
 * is already stored.
 *
 * One primary-key probe per pair, whatever the size of the table: the LATERAL subquery with
 * LIMIT cannot be flattened into a join, so the planner cannot choose a hash join over a
 * sequential scan of `events` (which it did for a plain join of a few thousand pairs: a group
 * commit then read the whole table, under the lock every writer waits for).
 */
export const FIND_STORED_PAIRS = `
SELECT e.topic, e.event_id
FROM unnest($1::text[], $2::text[]) AS wanted (topic, event_id)
CROSS JOIN LATERAL (
  SELECT topic, event_id FROM events WHERE topic = wanted.topic AND event_id = wanted.event_id LIMIT 1
) AS e`;
