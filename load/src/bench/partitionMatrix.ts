import { keySlot, keysFromConfig, loadConfig } from '@aggregator/common';
import { type BenchStackOptions, withBenchStack } from './benchStack.js';
import { describeCpu, formatTable } from './formatTable.js';
import { shardSummary } from './redisNodes.js';
import { type Bench, type ModeResult, runMode } from './runMode.js';

/**
 * `--partitions P,… --redis single,cluster`: the same modes on a fresh stack for every Redis
 * topology × QUEUE_PARTITIONS, side by side, with each shard's Redis CPU per event.
 */

export type Topology = BenchStackOptions['redis'];

/** One mode of one cell of the matrix. */
export interface MatrixResult extends ModeResult {
  redis: Topology;
  partitions: number;
  waitReplicas: number;
  /** CPU µs per event of each master (a shard), in port order; one for a single Redis. */
  shardsUsPerEvent: number[];
  /** Their sum: what the Redis work of one event costs on the masters. */
  mastersUsPerEvent: number;
  /** The replicas' CPU per event (replication's cost on their side); 0 for a single Redis. */
  replicasUsPerEvent: number;
  /** The busiest shard's part of `mastersUsPerEvent` (1/shards when perfectly even). */
  maxShardShare: number;
  /** Each shard's queue partitions, in the order of `shardsUsPerEvent`. */
  shardPartitions: number[];
  /** Which shard holds the counters' slot (`{<prefix>}:stats`, `:topics`, `:workers`). */
  countersShard: number;
}

/** Where the partitions' queues and the counters live: one shard per master, in `redisNodes` order. */
async function shardLayout({
  stack,
  redisNodes,
}: Bench): Promise<Pick<MatrixResult, 'shardPartitions' | 'countersShard'>> {
  const keys = keysFromConfig(loadConfig(stack.env));
  const masters = redisNodes.nodes.filter((n) => n.role === 'master').map((n) => n.port);
  const cluster = stack.redisCluster;
  if (!cluster) return { shardPartitions: [keys.partitions], countersShard: 0 };
  const owners = await Promise.all(keys.queues.map((q) => cluster.ownerOf(keySlot(`${q.bullPrefix}:${q.queueName}`))));
  return {
    shardPartitions: masters.map((port) => owners.filter((o) => o === port).length),
    countersShard: masters.indexOf(await cluster.ownerOf(keySlot(keys.stats))),
  };
}

export interface MatrixOptions {
  topologies: Topology[];
  partitions: number[];
  modes: Array<'batch' | 'single'>;
  stack: Omit<BenchStackOptions, 'redis' | 'partitions' | 'waitReplicas'>;
  /** REDIS_WAIT_REPLICAS on the cluster (a single Redis has no replica to wait for). */
  waitReplicas: number;
  mode: (mode: 'batch' | 'single') => Parameters<typeof runMode>[2];
  /** Told of each cell as it ends (the matrix takes minutes). */
  progress?: (line: string) => void;
}

export async function runPartitionMatrix(options: MatrixOptions): Promise<MatrixResult[]> {
  const results: MatrixResult[] = [];
  for (const redis of options.topologies) {
    for (const partitions of options.partitions) {
      const waitReplicas = redis === 'cluster' ? options.waitReplicas : 0;
      await withBenchStack({ ...options.stack, redis, partitions, waitReplicas }, async (bench) => {
        const layout = await shardLayout(bench);
        for (const mode of options.modes) {
          const r = await runMode(bench, mode, options.mode(mode));
          results.push({ ...r, redis, partitions, waitReplicas, ...shardSummary(r.redisNodes), ...layout });
          options.progress?.(`${redis} P=${partitions} ${mode}: ${r.eventsPerSecond} events/s`);
        }
      });
    }
  }
  return results;
}

const fixed = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');

export function printMatrix(results: readonly MatrixResult[], write: (line: string) => void): void {
  const rows = [
    [
      'redis',
      'P',
      'WAIT',
      'mode',
      'events/s',
      'publish p99',
      'Redis CPU µs/event: masters',
      'per shard (partitions; * counters)',
      'max shard share',
      'replicas',
      'CPU µs/event (load+api+worker+redis+store)',
      'exact',
    ],
    ...results.map((r) => [
      r.redis,
      String(r.partitions),
      String(r.waitReplicas),
      r.mode,
      String(r.eventsPerSecond),
      `${r.publishP99Ms} ms`,
      fixed(r.mastersUsPerEvent),
      r.shardsUsPerEvent
        .map((us, i) => `${fixed(us)} (${r.shardPartitions[i]}${i === r.countersShard ? '*' : ''})`)
        .join(' / '),
      `${Math.round(r.maxShardShare * 100)} %`,
      fixed(r.replicasUsPerEvent),
      describeCpu(r.cpuUsPerEvent),
      r.exact ? 'yes' : `NO (${r.detail})`,
    ]),
  ];
  for (const line of formatTable(rows)) write(line);
}
