/** Output: every topic name, sorted. */
export const LIST_TOPICS = 'SELECT topic FROM topics ORDER BY topic';
