/** Inputs: topic, number of new unique events in it. */
export const ADD_TOPIC_COUNT = `
INSERT INTO topics (topic, unique_count) VALUES (?, ?)
ON CONFLICT (topic) DO UPDATE SET unique_count = unique_count + excluded.unique_count`;
