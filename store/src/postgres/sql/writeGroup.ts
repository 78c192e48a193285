/**
 * Everything a group commit writes, in one statement (one round trip while the counters lock is
 * held). Inputs, arrays pairwise:
 * - $1–$7: the new events: topics, event ids, timestamps, sources, payloads (JSON text), seqs
 *   (bigint[]), processed_at.
 * - $8–$10: increments of received, unique_processed, duplicate_dropped.
 * - $11–$12: topics and their number of new events (bigint[]).
 * - $13–$14: ids of the jobs applied for the first time, and when (epoch ms, bigint[]).
 *
 * The events need no `ON CONFLICT`: the caller found the stored pairs under the counters lock, so
 * a conflict here is a bug, and failing loudly beats a gap in seq.
 */
export const WRITE_GROUP = `
WITH new_events AS (
  INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
), counted AS (
  UPDATE counters
  SET received = received + $8, unique_processed = unique_processed + $9, duplicate_dropped = duplicate_dropped + $10
  WHERE id = 1
), topic_counts AS (
  INSERT INTO topics (topic, unique_count)
  SELECT * FROM unnest($11::text[], $12::bigint[])
  ON CONFLICT (topic) DO UPDATE SET unique_count = topics.unique_count + excluded.unique_count
)
INSERT INTO applied_jobs (job_id, applied_at)
SELECT * FROM unnest($13::text[], $14::bigint[])`;
