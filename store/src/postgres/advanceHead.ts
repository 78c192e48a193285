import type pg from 'pg';
import type { HeadStep } from '../eventStore.js';
import { inTransaction } from './pool.js';
import { LOCK_HEAD, READ_HEAD, READ_LAST_SEQ, TAKE_XID, WRITE_HEAD } from './sql/visibleHead.js';

/**
 * One step of the visible head (sql/visibleHead.ts has the argument): never waits for a lock,
 * writes one row, and commits without waiting for the disk (`synchronous_commit = off`): a head
 * lost in a crash only falls back to an earlier value and moves up again over the same rows, which
 * were committed, synchronously, by their writers.
 */
export function stepHead(pool: pg.Pool): Promise<HeadStep> {
  return inTransaction(pool, async (client) => {
    const locked = (await client.query<{ locked: boolean }>({ name: 'lock_head', text: LOCK_HEAD })).rows[0]?.locked;
    const { rows } = await client.query<{
      head: number;
      pending_seq: number | null;
      pending_xid: string | null;
      horizon: string;
    }>({ name: 'read_head', text: READ_HEAD });
    const row = rows[0];
    if (!row) throw new Error('the store has no visible_head row; was it created by a worker?');
    if (!locked) return { head: row.head, settled: false };

    let { head, pending_seq: pendingSeq, pending_xid: pendingXid } = row;
    const before = { head, pendingSeq, pendingXid };
    // xid8 values as text: 64-bit, compared as BigInt.
    if (pendingSeq !== null && pendingXid !== null && BigInt(row.horizon) > BigInt(pendingXid)) {
      head = Math.max(head, pendingSeq);
      pendingSeq = null;
      pendingXid = null;
    }
    if (pendingSeq === null) {
      const last = (await client.query<{ last: number }>({ name: 'read_last_seq', text: READ_LAST_SEQ })).rows[0]?.last;
      if (last !== undefined && last > head) {
        pendingSeq = last;
        pendingXid = (await client.query<{ xid: string }>({ name: 'take_xid', text: TAKE_XID })).rows[0]?.xid ?? null;
      }
    }
    if (head !== before.head || pendingSeq !== before.pendingSeq || pendingXid !== before.pendingXid) {
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query({ name: 'write_head', text: WRITE_HEAD, values: [head, pendingSeq, pendingXid] });
    }
    return { head, settled: pendingSeq === null };
  });
}
