/** Inputs: $1 job ids (text[]). Output: `job_id` of each of them whose effect is committed here. */
export const FIND_APPLIED_JOBS = 'SELECT job_id FROM applied_jobs WHERE job_id = ANY($1::text[])';

/** Inputs: $1 cutoff (epoch ms). Deletes the records of jobs applied before it; rowCount is how many. */
export const PRUNE_APPLIED_JOBS = 'DELETE FROM applied_jobs WHERE applied_at < $1';
