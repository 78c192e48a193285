/** Inputs: cutoff (epoch ms). Deletes the records of jobs applied before it. */
export const PRUNE_APPLIED_JOBS = 'DELETE FROM applied_jobs WHERE applied_at < ?';
