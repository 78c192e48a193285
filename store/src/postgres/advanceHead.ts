import type pg from 'pg';
import type { HeadStep } from '../eventStore.js';
import { STEP_HEAD } from './sql/visibleHead.js';

/**
 * One step of the visible head (sql/visibleHead.ts has the argument): one round trip, a call of
 * `step_visible_head()` in a transaction of its own. It never waits for a lock, writes one row,
 * and commits without waiting for the disk (`synchronous_commit = off`, set inside the function):
 * a head lost in a crash only falls back to an earlier value and moves up again over the same
 * rows, which were committed, synchronously, by their writers.
 */
export async function stepHead(pool: pg.Pool): Promise<HeadStep> {
  const { rows } = await pool.query<HeadStep>({ name: 'step_head', text: STEP_HEAD });
  const step = rows[0];
  if (!step) throw new Error('step_visible_head() returned no row');
  return step;
}
