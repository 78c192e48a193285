/** Output: the one counters row. */
export const READ_COUNTERS = `
SELECT received, unique_processed, duplicate_dropped, store_id, created_at
FROM counters WHERE id = 1`;
