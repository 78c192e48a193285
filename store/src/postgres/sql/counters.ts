const COLUMNS = 'received, unique_processed, duplicate_dropped, store_id, created_at';

/** Output: the one counters row. */
export const READ_COUNTERS = `SELECT ${COLUMNS} FROM counters WHERE id = 1`;

/**
 * Output: the one counters row, locked until the transaction ends. Every group commit takes this
 * lock first: writers are serialised from here to their commit (see schema.ts).
 */
export const LOCK_COUNTERS = `SELECT ${COLUMNS} FROM counters WHERE id = 1 FOR UPDATE`;
