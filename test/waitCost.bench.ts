/**
 * What REDIS_WAIT_REPLICAS costs, measured on a local 3-master Redis Cluster with replicas:
 * `node --import tsx test/waitCost.bench.ts`. For each mode, one API process (no worker: this is
 * the cost of the enqueue path alone) with QUEUE_PARTITIONS=4; 8 closed-loop producers each send
 * 100-event requests (spread over 16 topics) for SECONDS seconds (10 by default).
 * Prints events/s acknowledged and the request latency percentiles (ms). Not part of `npm test`.
 */
import { randomUUID } from 'node:crypto';
import { withProcessStack } from './support/processStack.js';
import { withRedisCluster } from './support/redisCluster.js';

const SECONDS = Number(process.env.SECONDS ?? 10);
const CONCURRENCY = 8;
const BATCH = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(apiUrl: string): Promise<{ eventsPerSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  let events = 0;
  const run = randomUUID().slice(0, 8);
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const body = Array.from({ length: BATCH }, () => ({
          topic: `t${n % 16}`,
          event_id: `${run}-${n++}`,
          timestamp: '2025-01-31T12:00:00Z',
          source: 'bench',
          payload: { n },
        }));
        const started = performance.now();
        const res = await fetch(`${apiUrl}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`publish answered ${res.status}`);
        latencies.push(performance.now() - started);
        events += BATCH;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { eventsPerSecond: events / SECONDS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

await withRedisCluster(async (cluster) => {
  // Alternating rounds show how much of a difference is noise and warm-up.
  for (const wait of ['0', '1', '0', '1']) {
    const env = {
      REDIS_CLUSTER_NODES: cluster.seeds,
      QUEUE_PARTITIONS: '4',
      REDIS_WAIT_REPLICAS: wait,
      // No worker drains the queue: rounds of 80,000 events/s pass the default bound of 1,000,000.
      MAX_QUEUE_DEPTH: '0',
    };
    const figures = await withProcessStack({ workers: 0, apis: 1, env }, (stack) => measure(stack.apiUrl));
    console.log(
      `REDIS_WAIT_REPLICAS=${wait}: ${Math.round(figures.eventsPerSecond)} events/s acknowledged, ` +
        `request latency p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms`,
    );
  }
});
