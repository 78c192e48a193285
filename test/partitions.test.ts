import { type Event, partitionOf } from '@aggregator/common';
import { expect } from 'chai';
import { publishInBatches } from './support/publishInBatches.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withStack } from './support/withStack.js';

const P = 4;

/** A topic of each partition, found by the documented function. */
function topicsByPartition(): string[] {
  const topics: string[] = [];
  for (let i = 0; topics.filter(Boolean).length < P; i++) topics[partitionOf(`topic-${i}`, P)] ??= `topic-${i}`;
  return topics;
}

describe('queue partitions (one Redis, QUEUE_PARTITIONS=4)', () => {
  it('sends each topic through its own partition and counts exactly, duplicates across requests included', () =>
    withStack({ workers: 2, env: { QUEUE_PARTITIONS: String(P) } }, async (stack) => {
      expect(stack.queues.map((q) => q.queue.opts.prefix)).to.deep.equal(
        [0, 1, 2, 3].map((p) => `{${stack.config.REDIS_PREFIX}:p${p}}`),
      );
      const unique: Event[] = Array.from({ length: 2000 }, (_, i) => makeEvent({ topic: `t${i % 13}` }));
      const repeats = unique.filter((_, i) => i % 5 === 0);
      // Every fifth event again, in later requests: duplicates across requests.
      await publishInBatches(stack.publish, [...unique, ...repeats], { size: 100, parallel: 6 });
      const stats = await stack.settle(2400);
      expect(stats).to.include({ received: 2400, unique_processed: 2000, duplicate_dropped: 400 });
      expect(stats.partitions.map((p) => p.partition)).to.deep.equal([0, 1, 2, 3]);
      // Every pair was claimed in its topic's partition, and only there: each partition's fast path
      // holds exactly the claims of its own topics' events.
      for (const p of [0, 1, 2, 3]) {
        const own = unique.filter((e) => partitionOf(e.topic, P) === p).length;
        expect(Number(await stack.redis.hget(stack.keys.queue(p).fastPath, 'n')), `partition ${p}`).to.equal(own);
      }
    }));

  it('splits one request into one job per partition it touches', () =>
    withStack({ workers: 0, env: { QUEUE_PARTITIONS: String(P) } }, async (stack) => {
      const topics = topicsByPartition();
      const events = [topics[1], topics[3], topics[1], topics[3], topics[3]].map((topic) => makeEvent({ topic }));
      expect((await stack.publish(events)).statusCode).to.equal(200);
      const waiting = await Promise.all(stack.queues.map((q) => q.queue.getWaiting()));
      expect(waiting.map((jobs) => jobs.map((j) => j.data.events.length))).to.deep.equal([[], [2], [], [3]]);
      expect(waiting[3]?.[0]?.data.events.map((e) => e.event_id)).to.deep.equal(
        [events[1], events[3], events[4]].map((e) => e?.event_id),
      );
      const stats = await stack.stats();
      expect(stats.queue.waiting).to.equal(2);
      expect(stats.partitions.map((p) => p.waiting)).to.deep.equal([0, 1, 0, 1]);
    }));

  it('answers 503 with Retry-After when one partition refuses its part, and absorbs the retry as duplicates', () =>
    withStack({ workers: 1, env: { QUEUE_PARTITIONS: String(P) } }, async (stack) => {
      const topics = topicsByPartition();
      const events = [
        makeEvent({ topic: topics[0] }),
        makeEvent({ topic: topics[2] }),
        makeEvent({ topic: topics[2] }),
      ];
      // A queue's meta hash of the wrong type makes BullMQ's add script fail on partition 2 only.
      const meta = `${stack.keys.queue(2).bullPrefix}:events:meta`;
      await stack.redis.set(meta, 'not a hash');
      const refused = await stack.publish(events);
      expect(refused.statusCode).to.equal(503);
      expect(refused.headers['retry-after']).to.equal('1');
      expect(refused.json().error.code).to.equal('redis_unavailable');
      // Partition 0's part did get in, and is processed.
      await stack.settle(1);
      await stack.redis.del(meta);
      expect((await stack.publish(events)).statusCode).to.equal(200);
      const stats = await stack.settle(4);
      expect(stats).to.include({ received: 4, unique_processed: 3, duplicate_dropped: 1 });
    }));

  it('lets a worker replica take only the partitions of WORKER_PARTITIONS', () =>
    withStack({ workers: 1, env: { QUEUE_PARTITIONS: String(P), WORKER_PARTITIONS: '1-2' } }, async (stack) => {
      const topics = topicsByPartition();
      const events = topics.map((topic) => makeEvent({ topic }));
      expect((await stack.publish(events)).statusCode).to.equal(200);
      // /stats reads the counters and the queues one after the other, so wait until both show
      // partitions 1 and 2 done; partitions 0 and 3 must then still hold their job.
      const stats = await waitUntil(async () => {
        const s = await stack.stats();
        const busy = [1, 2].map((i) => (s.partitions[i]?.waiting ?? 1) + (s.partitions[i]?.active ?? 1));
        return s.received === 2 && busy.every((n) => n === 0) && s;
      });
      expect(stats.partitions.map((p) => p.waiting)).to.deep.equal([1, 0, 0, 1]);
      expect(stats.received).to.equal(2);
    }));
});

describe('REDIS_WAIT_REPLICAS (one Redis)', () => {
  it('answers 503 when Redis has fewer replicas than asked for', () =>
    withStack({ workers: 0, env: { REDIS_WAIT_REPLICAS: '1', ENQUEUE_TIMEOUT_MS: '200' } }, async (stack) => {
      const refused = await stack.publish(makeEvent());
      expect(refused.statusCode).to.equal(503);
      expect(refused.headers['retry-after']).to.equal('1');
      // The job itself is in Redis: a retry that succeeds would find it and drop it as a duplicate.
      expect((await stack.stats()).queue.waiting).to.equal(1);
    }));
});
