/** Inputs: job_id. Output: 1 when the job's effect is committed in this store, else no row. */
export const IS_JOB_APPLIED = 'SELECT 1 FROM applied_jobs WHERE job_id = ?';
