/** Inputs: $1 cutoff (epoch ms). Deletes the records of jobs applied before it; rowCount is how many. */
export const PRUNE_APPLIED_JOBS = 'DELETE FROM applied_jobs WHERE applied_at < $1';
