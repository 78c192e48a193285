/**
 * Inputs: topic, event_id, timestamp, source, payload (JSON text), seq, processed_at.
 * Output: `changes` is 1 when the pair is new and the row was written, 0 for a duplicate.
 */
export const INSERT_EVENT = `
INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (topic, event_id) DO NOTHING`;
