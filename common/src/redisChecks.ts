import type { Redis } from 'ioredis';
import { coerceError } from './errors.js';
import type { Logger } from './logger.js';

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
