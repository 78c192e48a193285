import { readFileSync } from 'node:fs';
import type { Event } from '@aggregator/common';
import { expect } from 'chai';
import { pairKey } from './support/producer.js';
import { expectExactlyStored, listStoredPairs } from './support/storedPairs.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

const POSTGRES = STORES.find((s) => s.name === 'PostgreSQL');

/** The process's state letter from /proc (`T`: stopped by a signal). */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '?';
}

/** `fresh` new events of one hot topic, plus duplicates of a quarter of them and of `earlier`. */
function hotBatch(fresh: number, earlier: Event[] = []): { events: Event[]; distinct: Event[] } {
  const distinct = Array.from({ length: fresh }, () => makeEvent({ topic: 'hot' }));
  return { events: [...distinct, ...distinct.slice(0, fresh / 4), ...earlier.slice(0, 5)], distinct };
}

const FAST_TAKEOVER = { WORKER_LOCK_MS: '1500', WORKER_STALLED_INTERVAL_MS: '500' };

describe('a writer frozen inside its transaction (processes, PostgreSQL)', function () {
  this.timeout(120_000);
  before(function () {
    POSTGRES?.require(this);
  });

  it('stalls the other writers for seconds at most; its job is taken over; woken, it changes nothing', () =>
    withProcessStackOn(POSTGRES as NonNullable<typeof POSTGRES>, { workers: 0, env: FAST_TAKEOVER }, async (stack) => {
      // Alone when its job arrives, so the frozen worker surely holds it. SIGSTOP at the failpoint,
      // after the group's last statement: it holds its xid (the visible head), the hot topic's row
      // lock, a counter slot and its rows' keys, with its connections open, as a stalled host would.
      const doomed = await stack.startWorker({ AGGREGATOR_FAILPOINTS: 'store.before-commit:stop' });
      const frozen = hotBatch(40);
      expect((await stack.publish(frozen.events)).status).to.equal(200);
      await waitUntil(() => processState(doomed.pid as number) === 'T', { what: 'the worker frozen at the failpoint' });

      // Four other writers, the same hot topic, duplicates of the frozen job's events too.
      await Promise.all([1, 2, 3, 4].map(() => stack.startWorker()));
      const later = Array.from({ length: 8 }, () => hotBatch(40, frozen.distinct));
      const publishedAt = Date.now();
      const statuses = await Promise.all(later.map(async (b) => (await stack.publish(b.events)).status));
      expect(new Set(statuses)).to.deep.equal(new Set([200]));
      const distinct = [...frozen.distinct, ...later.flatMap((b) => b.distinct)];
      const received = frozen.events.length + later.reduce((n, b) => n + b.events.length, 0);

      // Everything, the frozen job's events included (taken over after WORKER_LOCK_MS), is stored
      // and readable while the worker is still frozen: the server ended its transaction (5 s idle)
      // and with it its locks and its hold on the visible head.
      const stored = await waitUntil(
        async () => {
          const pairs = await listStoredPairs(stack.apiUrl);
          return pairs.length === distinct.length && pairs;
        },
        { timeoutMs: 30_000, what: 'every event stored and visible while one writer is frozen' },
      );
      const recoveredMs = Date.now() - publishedAt;
      // idle_in_transaction_session_timeout (5 s) or lock_timeout (5 s), then a retry's backoff.
      expect(recoveredMs).to.be.below(15_000);
      expect(processState(doomed.pid as number)).to.equal('T');
      expect(new Set(stored)).to.deep.equal(new Set(distinct.map(pairKey)));

      // Woken, its commit fails (its session is gone) and its job belongs to another worker now.
      process.kill(doomed.pid as number, 'SIGCONT');
      await waitUntil(() => processState(doomed.pid as number) !== 'T');
      await expectExactlyStored(stack, new Set(distinct.map(pairKey)), received);
      // Later jobs are applied exactly once too, whichever worker takes them.
      const after = hotBatch(20, frozen.distinct);
      expect((await stack.publish(after.events)).status).to.equal(200);
      await expectExactlyStored(
        stack,
        new Set([...distinct, ...after.distinct].map(pairKey)),
        received + after.events.length,
      );
      expect(doomed.running).to.equal(true);
    }));
});
