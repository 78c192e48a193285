const COLUMNS = 'received, unique_processed, duplicate_dropped, store_id, created_at';

/** Output: the counters: the base row plus every slot's deltas (the `counters` view, schema.ts). */
export const READ_COUNTERS = `SELECT ${COLUMNS} FROM counters WHERE id = 1`;
