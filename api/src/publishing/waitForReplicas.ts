import type { Redis } from '@aggregator/common';
import { keySlot } from '@aggregator/common';
import type { Cluster } from 'ioredis';

/**
 * Redis `WAIT replicas timeoutMs` for the writes this process made to the master that holds `key`,
 * so a write acknowledged afterwards survives that master's death. WAIT counts the writes of the
 * connection it is sent on, so on a cluster it goes to the connection of the master that owns
 * the key's slot (the one the writes went through), not to a random node.
 *
 * @returns how many replicas acknowledged the writes (fewer than `replicas` after a timeout)
 */
export async function waitForReplicas(redis: Redis, key: string, replicas: number, timeoutMs: number): Promise<number> {
  if (!isCluster(redis)) return redis.wait(replicas, timeoutMs);
  const owner = redis.slots[keySlot(key)]?.[0];
  const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new Error(`no known master holds the slot of ${key} (a failover is under way)`);
  return node.wait(replicas, timeoutMs);
}

function isCluster(redis: Redis): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}
