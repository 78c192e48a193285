import type { LocalStack } from '@aggregator/stack';
import { Redis } from 'ioredis';

/** One redis-server of the stack, as the bench measures it. */
export interface RedisNode {
  readonly port: number;
  /** `master`: a shard (the single Redis is one); `replica`: a copy of one. */
  readonly role: 'master' | 'replica';
}

/** The stack's redis-servers, and a sampler of the CPU each has used. */
export interface RedisNodes {
  readonly nodes: readonly RedisNode[];
  /** CPU seconds (user + system, every thread) each node has used so far, in `nodes` order. */
  sampleCpu(): Promise<number[]>;
  close(): void;
}

/**
 * Connects to each redis-server of the stack (the private one, or every node of the private
 * cluster, its masters as they are now). CPU is read from `INFO cpu` (`used_cpu_sys` +
 * `used_cpu_user`, microsecond resolution) rather than /proc's 10 ms ticks, so that even a short
 * smoke run sees each shard's share.
 */
export async function openRedisNodes(stack: LocalStack): Promise<RedisNodes> {
  let nodes: RedisNode[];
  if (stack.redisCluster) {
    const masters = await stack.redisCluster.masters();
    nodes = stack.redisCluster.nodes.map(({ port }) => ({
      port,
      role: masters.includes(port) ? 'master' : 'replica',
    }));
  } else {
    const port = Number(new URL(stack.redisUrl).port);
    nodes = [{ port, role: 'master' }];
  }
  // Plain connections, not a cluster client: INFO is about the node it is sent to.
  // The single private Redis wants its user and password (the URL has them); the cluster's nodes none.
  const clients = stack.redisCluster
    ? nodes.map((n) => new Redis({ host: '127.0.0.1', port: n.port, lazyConnect: false }))
    : [new Redis(stack.redisUrl, { lazyConnect: false })];
  return {
    nodes,
    async sampleCpu() {
      return Promise.all(
        clients.map(async (client) => {
          const info = await client.info('cpu');
          const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
          return field('used_cpu_sys') + field('used_cpu_user');
        }),
      );
    },
    close() {
      for (const client of clients) client.disconnect();
    },
  };
}

/** What each Redis node spent per event in one mode. */
export interface RedisNodeCpu extends RedisNode {
  /** CPU microseconds per event of the mode (all events, not only those of its partitions). */
  cpuUsPerEvent: number;
}

/** The shards' figures: each master's CPU per event, their sum, and the busiest one's share. */
export function shardSummary(nodes: readonly RedisNodeCpu[]): {
  shardsUsPerEvent: number[];
  mastersUsPerEvent: number;
  replicasUsPerEvent: number;
  maxShardShare: number;
} {
  const shards = nodes.filter((n) => n.role === 'master').map((n) => n.cpuUsPerEvent);
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
  const masters = sum(shards);
  return {
    shardsUsPerEvent: shards,
    mastersUsPerEvent: masters,
    replicasUsPerEvent: sum(nodes.filter((n) => n.role === 'replica').map((n) => n.cpuUsPerEvent)),
    maxShardShare: masters > 0 ? Math.max(...shards) / masters : Number.NaN,
  };
}
