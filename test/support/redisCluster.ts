import { type RedisCluster, startRedisCluster } from '@aggregator/stack';
import { withTempDir } from './withStack.js';

/** A Redis Cluster of the test's own: 3 masters with a replica each, on free ports. */
export type RedisClusterFixture = RedisCluster;

/**
 * Starts 6 `redis-server --cluster-enabled yes` (AOF on, a short node timeout so failovers take
 * seconds) joined as 3 masters with a replica each (stack/src/redisCluster.ts), waits for
 * `cluster_state:ok` on all of them, runs `fn`, and stops every node.
 */
export async function withRedisCluster<T>(fn: (cluster: RedisClusterFixture) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const cluster = await startRedisCluster({ dir, masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000 });
    try {
      return await fn(cluster);
    } finally {
      await cluster.stop();
    }
  });
}
