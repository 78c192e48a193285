import type { Event } from '@aggregator/common';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { listStoredPairs } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

describe('changing QUEUE_PARTITIONS on a running system (processes)', function () {
  this.timeout(90_000);

  it('moves from 1 to 4 partitions and back to 2 without losing or double-counting anything', () =>
    withProcessStack({ workers: 0, apis: 1 }, async (stack) => {
      const topics = Array.from({ length: 12 }, (_, i) => `topic-${i}`);
      const batch = (n: number) => Array.from({ length: n }, (_, i) => makeEvent({ topic: topics[i % 12] }));
      const publish = async (events: Event[]) => expect((await stack.publish(events)).status).to.equal(200);

      // P=1: jobs wait in the plain queue (no worker yet).
      const first = batch(120);
      await publish(first);
      // Step 1: workers of the new layout start first, then the API moves to it. The old layout's
      // queue still holds jobs, so a worker of the old configuration keeps running until it is empty.
      await stack.startWorker({ QUEUE_PARTITIONS: '4', REPLICA_ID: 'new-4' });
      await stack.restartApi(0, { QUEUE_PARTITIONS: '4' });
      const second = batch(120);
      await publish([...second, ...first.slice(0, 30)]); // 30 duplicates across the layouts
      await stack.startWorker({ REPLICA_ID: 'old-1' });

      // Step 2: down to 2 partitions. Workers of P=4 keep consuming partitions 2 and 3 while the API
      // publishes to 0 and 1 only; they are replaced once partitions 2 and 3 are empty.
      await stack.restartApi(0, { QUEUE_PARTITIONS: '2' });
      const third = batch(120);
      await publish([...third, ...second.slice(0, 20)]); // 20 more duplicates
      const total = 120 + 150 + 140;
      const stats = await waitUntil(
        async () => {
          const s = await stack.stats();
          return s.received === total && s.queue.waiting + s.queue.active + s.queue.delayed === 0 && s;
        },
        { what: `received == ${total} with every queue empty`, timeoutMs: 30_000 },
      );
      expect(stats).to.include({ received: total, unique_processed: 360, duplicate_dropped: 50 });
      const stored = await listStoredPairs(stack.apiUrl);
      expect(stored).to.have.length(360);
      expect(new Set(stored).size).to.equal(360);
    }));
});
