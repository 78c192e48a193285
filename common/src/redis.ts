import { Cluster, type ClusterOptions, type RedisOptions, Redis as SingleRedis } from 'ioredis';
import type { ClusterNode } from './config.js';

/**
 * A connection to Redis: one server (ioredis `Redis`) or a Redis Cluster (ioredis `Cluster`). Both
 * speak the same commands; a cluster client routes each one to the master of its key's slot.
 */
export type Redis = SingleRedis | Cluster;

/** Where Redis is: a Redis Cluster when `REDIS_CLUSTER_NODES` is set, else the server at `REDIS_URL`. */
export interface RedisTarget {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: readonly ClusterNode[] | undefined;
}

/**
 * How a connection behaves while Redis is down.
 * - `request`: for request paths (the API): commands fail at once instead of queueing, so a
 *   client gets its 503 within a second, never a hanging request.
 * - `blocking`: for BullMQ workers: commands wait for the reconnection (BullMQ requires
 *   `maxRetriesPerRequest: null` on worker connections, on a cluster in its `redisOptions`).
 */
export type ConnectionRole = 'request' | 'blocking';

const byRole: Record<ConnectionRole, Pick<RedisOptions, 'enableOfflineQueue' | 'maxRetriesPerRequest'>> = {
  request: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  blocking: { enableOfflineQueue: true, maxRetriesPerRequest: null },
};

// Reconnect forever with a capped delay (no hot loop).
const retry = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

/** Opens a Redis connection (or a cluster client) that reconnects forever. */
export function createRedis(target: string | RedisTarget, role: ConnectionRole, name: string): Redis {
  const nodes = typeof target === 'string' ? undefined : target.REDIS_CLUSTER_NODES;
  const common: RedisOptions = { connectionName: name, connectTimeout: 2000, lazyConnect: false };
  if (!nodes) {
    const url = typeof target === 'string' ? target : target.REDIS_URL;
    return new SingleRedis(url, { ...common, retryStrategy: retry, ...byRole[role] });
  }
  const options: ClusterOptions = {
    enableReadyCheck: true,
    enableOfflineQueue: byRole[role].enableOfflineQueue,
    clusterRetryStrategy: retry,
    // A master's node connection is not retried: a failover is found through the slot map, which
    // is refreshed on every MOVED or closed connection and every few seconds.
    slotsRefreshInterval: 2000,
    slotsRefreshTimeout: 2000,
    redisOptions: { ...common, maxRetriesPerRequest: byRole[role].maxRetriesPerRequest },
  };
  return new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
}

/** Resolves when the connection is ready, or rejects after `timeoutMs`. */
export function waitReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Closes a connection: QUIT when it is up, disconnect otherwise; never throws. */
export async function quitRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

/**
 * For request paths: returns at once when the connection is ready, waits up to `waitMs` while it
 * is still making its first connection, and rejects at once while Redis is known to be down
 * (`reconnecting`), so a client gets a fast 503 instead of a hanging request.
 */
export async function ensureReady(redis: Redis, waitMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'connecting' || redis.status === 'connect' || redis.status === 'wait') {
    return waitReady(redis, waitMs);
  }
  throw new Error(`Redis connection is ${redis.status}`);
}
