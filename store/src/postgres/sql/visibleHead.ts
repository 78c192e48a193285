/**
 * The visible head: the seq up to which readers are served. Writers draw seqs from `events_seq` in
 * parallel, so a row with a lower seq may commit after one with a higher seq; a reader that had
 * moved past it would never see it. Readers therefore stop at `visible_head.head`, a seq below
 * which no writer is still running, and the head only moves forward, one step at a time:
 *
 * 1. (LOCK_HEAD) a transaction-scoped advisory lock, tried without waiting: one step at a time,
 *    and nobody ever waits for it (a worker that does not get it leaves the step to the holder);
 * 2. (READ_HEAD, a statement after the lock, so it sees the previous step's commit) the head, the
 *    pending candidate `(pending_seq, pending_xid)` and the horizon, the oldest transaction id
 *    still running (`pg_snapshot_xmin`);
 * 3. if the horizon is above `pending_xid`, every transaction that had an xid when the candidate
 *    was taken has ended, so every seq up to `pending_seq` is committed or will never be: the head
 *    moves to `pending_seq`;
 * 4. with no candidate left: (READ_LAST_SEQ) the last seq drawn, then, in a later statement
 *    (TAKE_XID), this transaction's own xid, which is above every xid assigned before. Writers
 *    take their xid before drawing any seq (BEGIN_GROUP), so a writer that drew a seq up to the
 *    last one read had its xid before ours: once the horizon passes ours, it has ended;
 * 5. (WRITE_HEAD) the new head and candidate, committed.
 *
 * Any transaction holding an xid in the database (a writer, a migration, a frozen session) holds
 * the horizon back, and with it the head: rows stay invisible, never out of order. Transactions
 * without an xid (readers, VACUUM) do not.
 */

/** Inputs: none. Output: `locked`, whether this transaction may take the step. */
export const LOCK_HEAD = 'SELECT pg_try_advisory_xact_lock(7018422464993387893) AS locked';

/** Inputs: none. Output: `head`, `pending_seq`, `pending_xid` (text), `horizon` (text). */
export const READ_HEAD = `
SELECT head, pending_seq, pending_xid::text AS pending_xid, pg_snapshot_xmin(pg_current_snapshot())::text AS horizon
FROM visible_head WHERE id = 1`;

/** Inputs: none. Output: `last`, the last seq drawn by any writer (0 before the first). */
export const READ_LAST_SEQ = 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS last FROM events_seq';

/** Inputs: none. Output: `xid` (text), this transaction's id, assigned now. */
export const TAKE_XID = 'SELECT pg_current_xact_id()::text AS xid';

/** Inputs: $1 head, $2 pending seq (or NULL), $3 pending xid (text, or NULL). */
export const WRITE_HEAD = 'UPDATE visible_head SET head = $1, pending_seq = $2, pending_xid = $3::xid8 WHERE id = 1';

/** Inputs: none. Output: `head`. */
export const READ_VISIBLE_HEAD = 'SELECT head FROM visible_head WHERE id = 1';

/** The bound every read of events takes: a subquery evaluated once per statement (an InitPlan). */
export const HEAD = '(SELECT head FROM visible_head WHERE id = 1)';
