import { coerceError, type Keys, type Logger, type Redis } from '@aggregator/common';

/**
 * Announces a group commit on the `committed` channel (Redis PUBLISH; on a Redis Cluster a classic
 * PUBLISH reaches the subscribers of every node), so API replicas read the store for their open
 * streams at once instead of polling it. Fire and forget: an announcement lost (Redis down) only
 * delays delivery until the API's safety poll (`STREAM_POLL_MS`). While Redis is down nothing is
 * queued, so the offline queue of a blocking connection cannot grow with commits.
 */
export function commitAnnouncer(redis: Redis, keys: Keys, logger: Logger): (highestSeq: number) => void {
  return (highestSeq) => {
    if (redis.status !== 'ready') return;
    redis.publish(keys.committed, String(highestSeq)).catch((e: unknown) => {
      logger.debug({ err: coerceError(e).message }, 'commit announcement failed; the API polls anyway');
    });
  };
}
