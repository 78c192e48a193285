/** Output: the number of stored events (checks `unique_processed`). */
export const COUNT_EVENTS = 'SELECT count(*) AS n FROM events';
