/**
 * The first statement of every group commit. Inputs: $1 job ids (text[]). Output: one row,
 * `applied`, the ids among them whose effect is committed here (text[]).
 *
 * It also gives the transaction its xid (`pg_current_xact_id()`) before any seq is drawn: the
 * visible head relies on it (visibleHead.ts, step 4).
 */
export const BEGIN_GROUP = `
SELECT pg_current_xact_id() IS NOT NULL AS has_xid,
  array(SELECT job_id FROM applied_jobs WHERE job_id = ANY($1::text[])) AS applied`;

/** Inputs: $1 cutoff (epoch ms). Deletes the records of jobs applied before it; rowCount is how many. */
export const PRUNE_APPLIED_JOBS = 'DELETE FROM applied_jobs WHERE applied_at < $1';
