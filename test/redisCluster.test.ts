import { type Event, keySlot } from '@aggregator/common';
import { expect } from 'chai';
import { type RedisClusterFixture, withRedisCluster } from './support/redisCluster.js';
import { makeEvent, withStack } from './support/withStack.js';

const ADMIN_TOKEN = 'admin-secret-0123456789';

/** Error replies of one kind (e.g. CROSSSLOT) that each node has sent since its last RESETSTAT. */
async function errorReplies(cluster: RedisClusterFixture, kind: string): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const { port, child } of cluster.nodes) {
    if (!child.running) continue;
    const info = await cluster.cli(port, 'info', 'errorstats');
    counts[port] = Number(new RegExp(`errorstat_${kind}:count=(\\d+)`).exec(info)?.[1] ?? 0);
  }
  return counts;
}

async function resetStats(cluster: RedisClusterFixture): Promise<void> {
  for (const { port, child } of cluster.nodes) if (child.running) await cluster.cli(port, 'config', 'resetstat');
}

describe('on a Redis Cluster (3 masters, 3 replicas)', function () {
  this.timeout(120_000);

  it('runs the pipeline with QUEUE_PARTITIONS=4: exact counters, dedup across requests, no CROSSSLOT anywhere', () =>
    withRedisCluster(async (cluster) => {
      // The probe has teeth: a cross-slot command is counted.
      const owner = await cluster.ownerOf(keySlot('a'));
      await cluster.cli(owner, 'mset', 'a', '1', 'b', '2').catch(() => undefined);
      expect(Object.values(await errorReplies(cluster, 'CROSSSLOT')).reduce((a, b) => a + b)).to.equal(1);
      await resetStats(cluster);

      await withStack(
        { workers: 2, env: { REDIS_CLUSTER_NODES: cluster.seeds, QUEUE_PARTITIONS: '4', ADMIN_TOKEN } },
        async (stack) => {
          // The four partitions do not all sit on one shard.
          const owners = await Promise.all(
            stack.keys.queues.map((q) => cluster.ownerOf(keySlot(`${q.bullPrefix}:${q.queueName}`))),
          );
          expect(new Set(owners).size).to.be.at.least(2);

          const unique: Event[] = Array.from({ length: 1500 }, (_, i) => makeEvent({ topic: `t${i % 11}` }));
          const repeats = unique.filter((_, i) => i % 3 === 0);
          const batches: Event[][] = [];
          for (let i = 0; i < unique.length; i += 100) batches.push(unique.slice(i, i + 100));
          for (let i = 0; i < repeats.length; i += 50) batches.push(repeats.slice(i, i + 50));
          for (let i = 0; i < batches.length; i += 4) {
            const replies = await Promise.all(batches.slice(i, i + 4).map((b) => stack.publish(b)));
            expect(replies.map((r) => r.statusCode)).to.satisfy((codes: number[]) => codes.every((c) => c === 200));
          }
          const stats = await stack.settle(2000);
          expect(stats).to.include({ received: 2000, unique_processed: 1500, duplicate_dropped: 500 });
          expect(stats.topics).to.have.length(11);

          // Readiness, metrics and the queue UI work on the cluster too.
          expect((await stack.request({ method: 'GET', url: '/readyz' })).statusCode).to.equal(200);
          const metrics = await stack.request({ method: 'GET', url: '/metrics' });
          expect(metrics.body).to.match(/aggregator_queue_jobs\{partition="3",state="failed"[^}]*\} 0/);
          const board = await stack.request({
            method: 'GET',
            url: '/admin/queues/api/queues',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          expect(board.statusCode).to.equal(200);
          expect(
            board
              .json()
              .queues.map((q: { name: string }) => q.name)
              .sort(),
          ).to.deep.equal(['p0-events', 'p1-events', 'p2-events', 'p3-events']);

          // The counters are rebuilt from the store after Redis lost them.
          await stack.redis.del(stack.keys.stats, stack.keys.topics);
          expect(await stack.stats()).to.include({ received: 2000, unique_processed: 1500, duplicate_dropped: 500 });
        },
      );
      expect(await errorReplies(cluster, 'CROSSSLOT')).to.satisfy((counts: Record<number, number>) =>
        Object.values(counts).every((n) => n === 0),
      );
    }));
});
