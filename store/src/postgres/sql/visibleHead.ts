/**
 * The visible head: the seq up to which readers are served. Writers draw seqs from `events_seq` in
 * parallel, so a row with a lower seq may commit after one with a higher seq; a reader that had
 * moved past it would never see it. Readers therefore stop at `visible_head.head`, a seq below
 * which no writer is still running, and the head only moves forward, one step at a time:
 *
 * One step is one call of the function `step_visible_head()` (schema version 4,
 * `V4_STEP_HEAD_FUNCTION` in schema.ts), in a transaction of its own:
 *
 * 1. a transaction-scoped advisory lock, tried without waiting: one step at a time,
 *    and nobody ever waits for it (a worker that does not get it leaves the step to the holder);
 * 2. (a statement after the lock, so it sees the previous step's commit) the head, the
 *    pending candidate `(pending_seq, pending_xid)` and the horizon, the oldest transaction id
 *    still running (`pg_snapshot_xmin`);
 * 3. if the horizon is above `pending_xid`, every transaction that had an xid when the candidate
 *    was taken has ended, so every seq up to `pending_seq` is committed or will never be: the head
 *    moves to `pending_seq`;
 * 4. with no candidate left: the last seq drawn, then, in a later statement, this transaction's
 *    own xid, which is above every xid assigned before. Writers take their xid before drawing
 *    any seq (BEGIN_GROUP), so a writer that drew a seq up to the last one read had its xid
 *    before ours: once the horizon passes ours, it has ended;
 * 5. the new head and candidate, committed without waiting for the disk (advanceHead.ts).
 *
 * Any transaction holding an xid in the database (a writer, a migration, a frozen session) holds
 * the horizon back, and with it the head: rows stay invisible, never out of order. Transactions
 * without an xid (readers, VACUUM) do not.
 */

/** Inputs: none. Output: one row, `head` after the step and `settled` (no candidate left). */
export const STEP_HEAD = 'SELECT head, settled FROM step_visible_head()';

/** Inputs: none. Output: `head`. */
export const READ_VISIBLE_HEAD = 'SELECT head FROM visible_head WHERE id = 1';

/** The bound every read of events takes: a subquery evaluated once per statement (an InitPlan). */
export const HEAD = '(SELECT head FROM visible_head WHERE id = 1)';
