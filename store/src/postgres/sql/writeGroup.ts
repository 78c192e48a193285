/** The group's rows with their seqs (a CTE, `numbered`), and their insertion, of both statements. */
const NUMBERED = `numbered AS (
  SELECT topic, event_id, timestamp, source, payload, processed_at, nextval('events_seq') AS seq
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    WITH ORDINALITY AS u (topic, event_id, timestamp, source, payload, processed_at, ord)
  ORDER BY ord
)`;
const INSERT_NUMBERED = `INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
SELECT topic, event_id, timestamp, source, payload, seq, processed_at FROM numbered ORDER BY topic, event_id`;

/**
 * The group's new events. Inputs, arrays pairwise: $1–$5 topics, event ids, timestamps, sources,
 * payloads (JSON text); $6 processed_at. Output: `topic, event_id, seq` of each row inserted.
 *
 * seq is drawn from `events_seq` in the order of the arrays (the group's processing order: a
 * volatile function in a CTE is evaluated once per row, as the ordinality scan yields them), by
 * writers in parallel; readers see it only once the visible head passes it (visibleHead.ts).
 * The rows are then inserted in `(topic, event_id)` order, so that two writers racing for several
 * of the same pairs wait for each other in one order, never in a cycle (a deadlock).
 *
 * A pair that another writer inserted since the caller looked (BEGIN_GROUP) is not
 * inserted: PostgreSQL waits for that writer's end and skips the row if it committed (its seq is
 * then a gap). The caller counts what was returned, so such a pair counts as a duplicate, once.
 */
export const INSERT_EVENTS = `
WITH ${NUMBERED}
${INSERT_NUMBERED}
ON CONFLICT (topic, event_id) DO NOTHING
RETURNING topic, event_id, seq`;

/**
 * INSERT_EVENTS without ON CONFLICT: the group's new events when no other writer inserts one of
 * the same pairs meanwhile (it then fails with a unique violation, 23505, and the caller applies
 * the group again with INSERT_EVENTS). A speculative insertion per row, which ON CONFLICT takes,
 * costs PostgreSQL about 40 % more CPU per row than a plain one. Same inputs, seq drawn and rows
 * ordered the same way (see INSERT_EVENTS). Output: one row, `last_seq`, the highest seq drawn.
 */
export const INSERT_NEW_EVENTS = `
WITH ${NUMBERED}, inserted AS (
${INSERT_NUMBERED}
RETURNING seq
)
SELECT coalesce(max(seq), 0) AS last_seq FROM inserted`;

/**
 * The group's totals, the last statement before the commit, so that the row locks it takes are
 * held only for this statement and the commit. Inputs:
 * - $1 the counter slot (0 … COUNTER_SLOTS - 1, drawn at random), $2–$4 increments of received,
 *   unique_processed, duplicate_dropped;
 * - $5–$6: topics (sorted, so that two writers lock them in the same order) and their number of
 *   new events (bigint[]);
 * - $7–$8: ids of the jobs applied for the first time, and when (epoch ms, bigint[]). A job applied
 *   by another writer meanwhile fails the group with a unique violation: never counted twice.
 */
export const WRITE_TOTALS = `
WITH counted AS (
  UPDATE counter_slots
  SET received = received + $2, unique_processed = unique_processed + $3, duplicate_dropped = duplicate_dropped + $4
  WHERE slot = $1
), topic_counts AS (
  INSERT INTO topics (topic, unique_count)
  SELECT * FROM unnest($5::text[], $6::bigint[])
  ON CONFLICT (topic) DO UPDATE SET unique_count = topics.unique_count + excluded.unique_count
)
INSERT INTO applied_jobs (job_id, applied_at)
SELECT * FROM unnest($7::text[], $8::bigint[])`;
