/** Output: `topic` of every topic, sorted (bytewise, as SQLite sorts). */
export const LIST_TOPICS = 'SELECT topic FROM topics ORDER BY topic COLLATE "C"';

/** Output: `n`, the number of topics. */
export const COUNT_TOPICS = 'SELECT count(*)::bigint AS n FROM topics';
