/**
 * The first statement of every group commit, so that a group takes five round trips (BEGIN, this,
 * INSERT_EVENTS, WRITE_TOTALS, COMMIT). Inputs: $1 job ids (text[]); $2 topics, $3 event ids
 * (text[], pairwise): the pairs to look up. Output: one row:
 * - `applied`: the ids among $1 whose effect is committed here (text[]);
 * - `stored_topics`, `stored_event_ids`: each pair of $2/$3 that is stored already, committed
 *   (text[], pairwise: two aggregates of one pass over the same rows).
 *
 * It also gives the transaction its xid (`pg_current_xact_id()`) before any seq is drawn: the
 * visible head relies on it (visibleHead.ts, step 4).
 *
 * One primary-key probe per pair, whatever the size of the table: the LATERAL subquery with LIMIT
 * cannot be flattened into a join, so the planner cannot choose a hash join over a sequential scan
 * of `events` (which it did for a plain join of a few thousand pairs).
 */
export const BEGIN_GROUP = `
SELECT pg_current_xact_id() IS NOT NULL AS has_xid,
  array(SELECT job_id FROM applied_jobs WHERE job_id = ANY($1::text[])) AS applied,
  coalesce(s.topics, '{}') AS stored_topics, coalesce(s.event_ids, '{}') AS stored_event_ids
FROM (
  SELECT array_agg(e.topic) AS topics, array_agg(e.event_id) AS event_ids
  FROM unnest($2::text[], $3::text[]) AS wanted (topic, event_id)
  CROSS JOIN LATERAL (
    SELECT topic, event_id FROM events WHERE topic = wanted.topic AND event_id = wanted.event_id LIMIT 1
  ) AS e
) AS s`;
