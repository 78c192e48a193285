/**
 * Inputs: job_id, applied_at (epoch ms).
 * Output: `changes` is 1 the first time a job is applied, 0 when its effect is already committed.
 */
export const MARK_JOB_APPLIED = `
INSERT INTO applied_jobs (job_id, applied_at) VALUES (?, ?)
ON CONFLICT (job_id) DO NOTHING`;
