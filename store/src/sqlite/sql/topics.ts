/** Inputs: topic, number of new unique events in it. */
export const ADD_TOPIC_COUNT = `
INSERT INTO topics (topic, unique_count) VALUES (?, ?)
ON CONFLICT (topic) DO UPDATE SET unique_count = unique_count + excluded.unique_count`;

/** Output: every topic name, sorted. */
export const LIST_TOPICS = 'SELECT topic FROM topics ORDER BY topic';

/** Output: the number of topics. */
export const COUNT_TOPICS = 'SELECT count(*) FROM topics';

/**
 * Inputs: from (inclusive), after (exclusive), to (exclusive), limit (-1: all).
 * Output: `topic, events` (its number of events) of the topics in that range, in byte order (TEXT compares with BINARY: memcmp of UTF-8),
 * read from the topics primary key. See ../../topicSelection.ts for the bounds.
 */
export const LIST_TOPICS_IN_RANGE = `
SELECT topic, unique_count AS events FROM topics WHERE topic >= ? AND topic > ? AND topic < ? ORDER BY topic LIMIT ?`;

/**
 * Inputs: topic. Output: `topic, events, last_seq` of that topic: its count from the topics table
 * and its highest seq, one seek at the end of its `(topic, seq)` index range. Both are written in
 * the transaction that stores the events, so they agree with what `GET /events` lists.
 */
export const TOPIC_STATS = `
SELECT topic, unique_count AS events, (SELECT max(seq) FROM events WHERE events.topic = topics.topic) AS last_seq
FROM topics WHERE topic = ?`;
