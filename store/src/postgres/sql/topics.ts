import { HEAD } from './visibleHead.js';

/** Output: `topic` of every topic, sorted (bytewise, as SQLite sorts). */
export const LIST_TOPICS = 'SELECT topic FROM topics ORDER BY topic COLLATE "C"';

/** Output: `n`, the number of topics. */
export const COUNT_TOPICS = 'SELECT count(*)::bigint AS n FROM topics';

/**
 * Inputs: $1 from (inclusive), $2 after (exclusive), $3 to (exclusive), $4 limit (NULL: all).
 * Output: `topic, events` (its number of events) of the topics in that range, in byte order (`COLLATE "C"`: UTF-8 compared bytewise), read
 * from the `topics_by_name_bytes` index. See ../../topicSelection.ts for the bounds.
 */
export const LIST_TOPICS_IN_RANGE = `
SELECT topic, unique_count AS events FROM topics
WHERE topic COLLATE "C" >= $1 AND topic COLLATE "C" > $2 AND topic COLLATE "C" < $3
ORDER BY topic COLLATE "C" LIMIT $4`;

/**
 * As LIST_TOPICS_IN_RANGE (no limit), each row also with `head`, the visible head (./visibleHead.ts), read in
 * the same statement and so the same snapshot: every event up to `head` is of a topic listed (or
 * outside the range), and a topic created later holds only events above it. A pattern page reads
 * its topics with this, then their events up to `head`, in two statements and no transaction.
 * Inputs: $1 from, $2 after, $3 to. Output: `topic, events, head`.
 */
export const LIST_TOPICS_IN_RANGE_AT_HEAD = `
SELECT topic, unique_count AS events, ${HEAD} AS head FROM topics
WHERE topic COLLATE "C" >= $1 AND topic COLLATE "C" > $2 AND topic COLLATE "C" < $3
ORDER BY topic COLLATE "C"`;

/**
 * Inputs: $1 topics (text[]). Output: `topic, events, last_seq` of each, sorted bytewise: its count
 * from the topics table and its highest seq, one seek at the end of its `(topic, seq)` index range.
 * Both are written in the transaction that stores the events; at rest (the visible head caught up)
 * they agree with `GET /events`.
 */
export const TOPIC_STATS = `
SELECT topic, unique_count AS events, (
  SELECT max(seq) FROM events WHERE events.topic = topics.topic AND seq <= ${HEAD}
) AS last_seq
FROM topics WHERE topic = ANY($1::text[]) ORDER BY topic COLLATE "C"`;
