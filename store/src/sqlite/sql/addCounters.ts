/** Inputs: received, unique_processed, duplicate_dropped increments. */
export const ADD_COUNTERS = `
UPDATE counters
SET received = received + ?, unique_processed = unique_processed + ?, duplicate_dropped = duplicate_dropped + ?
WHERE id = 1`;
