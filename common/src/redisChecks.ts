import { Cluster } from 'ioredis';
import { coerceError } from './errors.js';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/**
 * BullMQ needs `maxmemory-policy noeviction`: under any other policy Redis may evict queued jobs
 * when memory runs short, losing accepted events. Warn loudly at start-up when it is not set.
 */
export async function warnAboutEviction(redis: Redis, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(
        { policy },
        `Redis maxmemory-policy is "${policy}", not "noeviction": Redis may evict queued jobs and lose accepted events`,
      );
    }
  } catch (e: unknown) {
    logger.debug({ err: coerceError(e).message }, 'could not read maxmemory-policy (CONFIG may be disabled)');
  }
}

/**
 * Wires what every process does with its Redis connection: count and log connection errors (one
 * line per failed attempt, at most about one a second while Redis is down), and check the eviction
 * policy once connected. Call it before the first `await` so the first 'ready' is not missed.
 */
export function observeRedis(redis: Redis, logger: Logger, onError: () => void): void {
  redis.on('error', (error) => {
    onError();
    logger.warn({ err: error.message }, 'redis connection error');
  });
  redis.once('ready', () => void warnAboutEviction(redis, logger));
}

/** What `INFO memory` says of one Redis server. */
export interface RedisMemory {
  /** The server, as `host:port`. */
  node: string;
  /** `used_memory`: bytes the server has allocated. */
  used: number;
  /** `maxmemory`: its limit in bytes, 0 when it has none. */
  max: number;
}

/**
 * Reads the memory of every master that answers: one server, or each master of a cluster (as
 * `INFO` works where `CONFIG` is disabled, as on managed services). A master that does not answer
 * (killed, or cut off while the cluster fails it over) is left out, so that one lost shard does
 * not hide the others. A cluster client lists its masters only once it has read the slot map:
 * before that, none.
 *
 * @throws the error of the last master asked when none answered
 */
export async function readRedisMemory(redis: Redis): Promise<RedisMemory[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const read = await Promise.allSettled(
    servers.map(async (server) => {
      const info = await server.info('memory');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return {
        node: `${server.options.host}:${server.options.port}`,
        used: field('used_memory'),
        max: field('maxmemory'),
      };
    }),
  );
  const answered = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = read.findLast((r) => r.status === 'rejected');
  if (answered.length === 0 && failed) throw failed.reason;
  return answered;
}
