/**
 * Inputs: from (inclusive), after (exclusive), to (exclusive), limit (-1: all).
 * Output: `topic, events` (its number of events) of the topics in that range, in byte order (TEXT compares with BINARY: memcmp of UTF-8),
 * read from the topics primary key. See ../../topicSelection.ts for the bounds.
 */
export const LIST_TOPICS_IN_RANGE = `
SELECT topic, unique_count AS events FROM topics WHERE topic >= ? AND topic > ? AND topic < ? ORDER BY topic LIMIT ?`;
