import type { Event } from '@aggregator/common';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { pairKey } from './support/producer.js';
import { expectExactlyStored } from './support/storedPairs.js';
import { SETUPS, withProcessStackOn } from './support/stores.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/** A batch of fresh events plus duplicates of some of them (inside the batch and of `earlier`). */
function mixedBatch(fresh: number, earlier: Event[] = []): { events: Event[]; distinct: Event[] } {
  const distinct = Array.from({ length: fresh }, () => makeEvent());
  const duplicates = [...distinct.slice(0, Math.ceil(fresh / 4)), ...earlier.slice(0, 5)];
  return { events: [...distinct, ...duplicates], distinct };
}

const FIRST_START = 'a new store and a fresh Redis: the counters start at zero';
const LOST = 'Redis had lost counters or topics; republished them from the store';

/** How many log lines of the first worker carry `msg`. */
function workerLogged(stack: ProcessStack, msg: string): number {
  return (stack.workers[0]?.lines ?? []).filter((line) => line.includes(`"msg":${JSON.stringify(msg)}`)).length;
}

/** Every distinct event is stored exactly once, nothing else is, and the counters are exact. */
function expectExact(stack: ProcessStack, distinct: Event[], received: number): Promise<void> {
  return expectExactlyStored(stack, new Set(distinct.map(pairKey)), received);
}

const FAST_TAKEOVER = { WORKER_LOCK_MS: '1500', WORKER_STALLED_INTERVAL_MS: '500' };

for (const { name, store, redis } of SETUPS) {
  describe(`crash consistency (failpoints, processes, ${name})`, function () {
    this.timeout(60_000);
    before(function () {
      store.require(this);
    });

    // On the cluster, the failpoint whose crash leaves claims behind in a partition's slot; the two
    // later ones differ from it only in the store, which the cluster does not change (CI time).
    const failpoints =
      redis === 'cluster'
        ? (['worker.after-fastpath'] as const)
        : (['worker.after-fastpath', 'worker.after-commit', 'worker.after-counters'] as const);
    for (const failpoint of failpoints) {
      it(`loses nothing and counts nothing twice when a worker dies at ${failpoint}`, () =>
        withProcessStackOn(store, { redis, workers: 0, env: FAST_TAKEOVER }, async (stack) => {
          // A first batch goes through cleanly, so the crashing one also carries cross-batch duplicates.
          await stack.startWorker();
          const first = mixedBatch(20);
          expect((await stack.publish(first.events)).status).to.equal(200);
          await stack.settle(first.events.length);
          await stack.workers[0]?.stop();

          const doomed = await stack.startWorker({ AGGREGATOR_FAILPOINTS: `${failpoint}:exit` });
          const second = mixedBatch(30, first.distinct);
          expect((await stack.publish(second.events)).status).to.equal(200);
          const { signal } = await doomed.exited;
          expect(signal, 'the worker died at the failpoint').to.equal('SIGKILL');

          await stack.startWorker();
          await expectExact(stack, [...first.distinct, ...second.distinct], first.events.length + second.events.length);
        }));
    }

    it('stores an event once when the API dies after the enqueue and the producer retries', () =>
      withProcessStackOn(store, { redis, apis: 0 }, async (stack) => {
        const doomed = await stack.startApi({ AGGREGATOR_FAILPOINTS: 'api.after-enqueue:exit' });
        const batch = mixedBatch(20);
        const lost = await stack.publish(batch.events).then(
          (res) => res.status,
          (error: Error) => error.name,
        );
        expect(lost, 'the producer got no reply').to.equal('TypeError');
        expect((await doomed.exited).signal).to.equal('SIGKILL');

        await stack.startApi();
        expect((await stack.publish(batch.events)).status).to.equal(200);
        // Both copies were enqueued: the second is counted as duplicates, never stored again.
        await expectExact(stack, batch.distinct, 2 * batch.events.length);
      }));

    it('hands the jobs of a killed worker to another within the lock bound', () =>
      withProcessStackOn(store, { redis, workers: 0, env: FAST_TAKEOVER }, async (stack) => {
        // The doomed worker is alone when the job arrives, so it surely holds the job when it dies.
        const doomed = await stack.startWorker({ AGGREGATOR_FAILPOINTS: 'worker.after-fastpath:exit' });
        const batch = mixedBatch(10);
        expect((await stack.publish(batch.events)).status).to.equal(200);
        expect((await doomed.exited).signal).to.equal('SIGKILL');
        const died = Date.now();
        const survivor = await stack.startWorker();
        const startedMs = Date.now() - died;
        await expectExact(stack, batch.distinct, batch.events.length);
        const recoveredMs = Date.now() - died;
        // The lock expires at most 1.5 s after the death (a survivor slower to start than that finds
        // it expired), then two stalled checks 0.5 s apart and the work itself.
        expect(recoveredMs).to.be.below(Math.max(1500, startedMs) + 500 + 3000);
        expect(survivor.running).to.equal(true);
      }));

    it('recovers by itself when Redis loses all its data while running (FLUSHALL)', () =>
      withProcessStackOn(store, { redis }, async (stack) => {
        // Two topics that get no new events after the wipe must still be listed.
        const quiet = [makeEvent({ topic: 'quiet-a' }), makeEvent({ topic: 'quiet-b' })];
        await stack.publish(quiet);
        await stack.settle(2);
        const first = mixedBatch(20);
        await stack.publish(first.events);
        await stack.settle(2 + first.events.length);
        // A first start is logged as one, not as a loss. (After the wipe, whichever of the API's
        // /stats and the worker's resync comes first repairs Redis, so the loss line is not certain.)
        expect(workerLogged(stack, FIRST_START), 'the first start logged').to.be.at.least(1);
        expect(workerLogged(stack, LOST), 'no loss before the wipe').to.equal(0);

        await stack.flushRedis();

        // The same events again are all duplicates (the store decides), and new ones flow.
        const second = mixedBatch(10);
        const replay = await waitUntil(
          async () => {
            const res = await stack.publish([...first.distinct, ...second.events]);
            return res.status === 200 && res;
          },
          { what: 'publish after FLUSHALL' },
        );
        expect(replay.status).to.equal(200);
        await expectExact(
          stack,
          [...quiet, ...first.distinct, ...second.distinct],
          2 + first.events.length + first.distinct.length + second.events.length,
        );
        expect((await stack.stats()).topics).to.include.members(['quiet-a', 'quiet-b', 'orders']);
      }));
  });
}
