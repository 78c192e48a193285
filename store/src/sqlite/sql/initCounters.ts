/** Inputs: store_id (random), created_at (epoch ms). Creates the counters row once. */
export const INIT_COUNTERS = `
INSERT INTO counters (id, received, unique_processed, duplicate_dropped, store_id, created_at)
VALUES (1, 0, 0, 0, ?, ?)
ON CONFLICT (id) DO NOTHING`;
