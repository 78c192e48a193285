import { randomUUID } from 'node:crypto';
import { type Event, keySlot, keysFromConfig, loadConfig } from '@aggregator/common';
import { EventSource, planEvents } from '@aggregator/load';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { produce } from './support/producer.js';
import { publishInBatches } from './support/publishInBatches.js';
import { type RedisClusterFixture, withRedisCluster } from './support/redisCluster.js';
import { openStream } from './support/sseClient.js';
import { listStoredPairs } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';
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
          await publishInBatches(stack.publish, [...unique, ...repeats], { size: 100, parallel: 4 });
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

  it('delivers new events to an open stream through the commit announcements (classic PUBLISH reaches every node)', () =>
    withRedisCluster((cluster) =>
      withProcessStack(
        // The poll is too slow to pass the test: only announcements can.
        { workers: 2, env: { REDIS_CLUSTER_NODES: cluster.seeds, QUEUE_PARTITIONS: '4', STREAM_POLL_MS: '60000' } },
        async (stack) => {
          const client = await openStream(stack.apiUrl);
          const events = Array.from({ length: 200 }, (_, i) => makeEvent({ topic: `t${i % 7}` }));
          await publishInBatches(async (body) => ({ statusCode: (await stack.publish(body)).status }), events, {
            size: 20,
            parallel: 4,
          });
          await client.waitForEvents(200, 15_000);
          expect(new Set(client.events.map((e) => e.event_id))).to.deep.equal(new Set(events.map((e) => e.event_id)));
          await client.close();
        },
      ),
    ));

  it('survives a master SIGKILLed under load with REDIS_WAIT_REPLICAS=1: 503 + Retry-After, recovery, lost 0, stored twice 0', () =>
    withRedisCluster(async (cluster) =>
      withProcessStack(
        {
          workers: 2,
          apis: 1,
          env: { REDIS_CLUSTER_NODES: cluster.seeds, QUEUE_PARTITIONS: '4', REDIS_WAIT_REPLICAS: '1' },
        },
        async (stack) => {
          const keys = keysFromConfig(loadConfig(stack.env));
          const queue = keys.queue(0);
          const victim = await cluster.ownerOf(keySlot(`${queue.bullPrefix}:${queue.queueName}`));
          // A topic of partition 0, whose master dies.
          let probeTopic = 'probe';
          for (let i = 0; keys.partitionOf(probeTopic) !== 0; i++) probeTopic = `probe-${i}`;
          const probe = () => stack.publish(makeEvent({ topic: probeTopic }));
          // A new cluster's replicas may still be syncing with their masters, and WAIT counts
          // only replicas that are: wait for the first 200 before the load.
          await waitUntil(async () => (await probe()).status === 200, { what: 'WAIT to succeed', timeoutMs: 20_000 });

          const plan = planEvents({
            runId: `failover-${randomUUID().slice(0, 8)}`,
            events: 20_000,
            dup: 0.2,
            batch: 100,
            topics: 8,
          });
          const stopLoad = new AbortController();
          let acked = 0;
          const load = produce({
            urls: stack.apiUrls,
            source: new EventSource(plan),
            concurrency: 4,
            eventsPerSecond: 2000,
            stop: stopLoad.signal,
            onAcknowledged: (events) => {
              acked += events.length;
            },
          });
          load.catch(() => undefined);
          await waitUntil(() => acked >= 2000, { what: 'load under way' });

          await cluster.kill(victim);
          // A worker (re)started by its supervisor in the middle of the outage waits for Redis
          // rather than exiting: it sizes its fast path from the masters that answer.
          const lateWorker = stack.startWorker();
          // While the shard has no master, and then no replica to WAIT for, partition 0 refuses.
          const refused = await waitUntil(
            async () => {
              const res = await probe();
              return res.status === 503 && res;
            },
            { what: 'a 503 from the API', timeoutMs: 15_000 },
          );
          expect(refused.headers.get('retry-after')).to.equal('1');
          expect(((await refused.json()) as { error: { code: string } }).error.code).to.equal('redis_unavailable');
          await cluster.waitFailover(victim, keySlot(`${queue.bullPrefix}:${queue.queueName}`));
          // The dead node comes back (as a supervisor would restart it) and rejoins as a replica.
          await cluster.restart(victim);
          await cluster.waitHealthy();
          await lateWorker;
          await waitUntil(async () => (await probe()).status === 200, {
            what: 'the API to recover',
            timeoutMs: 20_000,
          });
          await waitUntil(() => acked >= 12_000, { what: 'more load after the failover', timeoutMs: 30_000 });
          stopLoad.abort();
          const report = await load;

          await waitUntil(
            async () => {
              const { queue } = await stack.stats();
              return queue.waiting + queue.active + queue.delayed === 0;
            },
            { timeoutMs: 30_000, what: 'the queue to drain' },
          );
          expect(stack.workers.every((w) => w.running)).to.equal(true);
          const stats = await stack.stats();
          const stored = await listStoredPairs(stack.apiUrl);
          const storedSet = new Set(stored);
          const lost = [...report.ackedPairs].filter((k) => !storedSet.has(k)).length;
          console.log(
            `      failover: ${report.ackedEvents} events acknowledged, retries ${JSON.stringify(report.retriesByReason)}, ` +
              `lost ${lost}, stored twice ${stored.length - storedSet.size}`,
          );
          expect(lost, 'acknowledged pairs lost').to.equal(0);
          expect(stored.length - storedSet.size, 'pairs stored twice').to.equal(0);
          // The probe's own events are stored too (every acknowledged one, and maybe refused ones).
          const probes = stored.filter((k) => k.includes(probeTopic)).length;
          expect(stats.unique_processed).to.equal(storedSet.size);
          expect(stats.unique_processed - probes).to.equal(report.ackedPairs.size);
          expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
          expect(stats.queue.failed).to.equal(0);
          expect(stats.workers).to.equal(3);
        },
      ),
    ));
});
