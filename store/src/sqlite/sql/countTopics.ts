/** Output: the number of topics. */
export const COUNT_TOPICS = 'SELECT count(*) FROM topics';
