/**
 * Inputs: topic. Output: `topic, events, last_seq` of that topic: its count from the topics table
 * and its highest seq, one seek at the end of its `(topic, seq)` index range. Both are written in
 * the transaction that stores the events, so they agree with what `GET /events` lists.
 */
export const TOPIC_STATS = `
SELECT topic, unique_count AS events, (SELECT max(seq) FROM events WHERE events.topic = topics.topic) AS last_seq
FROM topics WHERE topic = ?`;
