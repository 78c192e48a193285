import { coerceError, HEARTBEAT_MS, type Keys, type Logger, type Redis } from '@aggregator/common';

/**
 * Keeps this replica in the sorted set of live workers (`GET /stats` → `workers`). Returns a stop
 * function that removes the replica at once.
 */
export function startHeartbeat(redis: Redis, keys: Keys, replica: string, logger: Logger): () => Promise<void> {
  const beat = async () => {
    // While Redis is down a beat would only queue up; the next one after reconnecting counts.
    if (redis.status !== 'ready') return;
    const now = Date.now();
    try {
      await redis
        .multi()
        .zadd(keys.workers, now, replica)
        .zremrangebyscore(keys.workers, '-inf', now - 60_000)
        .exec();
    } catch (e: unknown) {
      logger.debug({ err: coerceError(e).message }, 'heartbeat failed');
    }
  };
  void beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  // Announce again as soon as Redis is back (it may have lost the set).
  const onReady = () => void beat();
  redis.on('ready', onReady);
  return async () => {
    clearInterval(timer);
    redis.off('ready', onReady);
    if (redis.status === 'ready') await redis.zrem(keys.workers, replica).catch(() => undefined);
  };
}
