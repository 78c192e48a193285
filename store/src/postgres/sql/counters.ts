const COLUMNS = 'received, unique_processed, duplicate_dropped, store_id, created_at';

/** Output: the counters: the base row plus every slot's deltas (the `counters` view, schema.ts). */
export const READ_COUNTERS = `SELECT ${COLUMNS} FROM counters WHERE id = 1`;

/**
 * One step of the visible head (sql/visibleHead.ts) and the counters, in one round trip: the step a
 * writer takes after its commit, before it reports the totals. Output: one row, `head`, `settled`
 * and the counters' columns, read in the statement's snapshot, taken after the writer's commit.
 */
export const STEP_HEAD_READING_COUNTERS = `
SELECT s.head, s.settled, c.${COLUMNS.split(', ').join(', c.')}
FROM step_visible_head() AS s CROSS JOIN counters AS c WHERE c.id = 1`;
