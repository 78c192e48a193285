import { Redis, type RedisOptions } from 'ioredis';

export { Redis } from 'ioredis';

/**
 * How a connection behaves while Redis is down.
 * - `request`: for request paths (the API): commands fail at once instead of queueing, so a
 *   client gets its 503 within a second, never a hanging request.
 * - `blocking`: for BullMQ workers: commands wait for the reconnection (BullMQ requires
 *   `maxRetriesPerRequest: null` on worker connections).
 */
export type ConnectionRole = 'request' | 'blocking';

/** Opens a Redis connection that reconnects forever with a capped delay (no hot loop). */
export function createRedis(url: string, role: ConnectionRole, name: string): Redis {
  const common: RedisOptions = {
    connectionName: name,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    lazyConnect: false,
  };
  const byRole: Record<ConnectionRole, RedisOptions> = {
    request: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    blocking: { enableOfflineQueue: true, maxRetriesPerRequest: null },
  };
  return new Redis(url, { ...common, ...byRole[role] });
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
