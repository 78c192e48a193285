/**
 * Inputs: job_id, applied_at (epoch ms).
 * Output: `changes` is 1 the first time a job is applied, 0 when its effect is already committed.
 */
export const MARK_JOB_APPLIED = `
INSERT INTO applied_jobs (job_id, applied_at) VALUES (?, ?)
ON CONFLICT (job_id) DO NOTHING`;

/** Inputs: cutoff (epoch ms). Deletes the records of jobs applied before it. */
export const PRUNE_APPLIED_JOBS = 'DELETE FROM applied_jobs WHERE applied_at < ?';

/** Inputs: job_id. Output: 1 when the job's effect is committed in this store, else no row. */
export const IS_JOB_APPLIED = 'SELECT 1 FROM applied_jobs WHERE job_id = ?';
