/** Inputs: topic, number of new unique events in it. */
export const ADD_TOPIC_COUNT = `
INSERT INTO topics (topic, unique_count) VALUES (?, ?)
ON CONFLICT (topic) DO UPDATE SET unique_count = unique_count + excluded.unique_count`;

/** Output: every topic name, sorted. */
export const LIST_TOPICS = 'SELECT topic FROM topics ORDER BY topic';

/** Output: the number of topics. */
export const COUNT_TOPICS = 'SELECT count(*) FROM topics';
