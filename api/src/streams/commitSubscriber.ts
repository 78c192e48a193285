import { type Config, createRedis, type Keys, type Logger, type Redis } from '@aggregator/common';

/**
 * Subscribes to the workers' commit announcements (worker/src/announceCommits.ts) on a connection
 * of its own (a subscribed connection takes no other command) and calls `onCommit` with each
 * announced `seq`. On a Redis Cluster the cluster client subscribes on one node, which receives
 * every node's PUBLISH. ioredis subscribes again after a reconnection; announcements made while it
 * was away are lost, so `onCommit()` is called then too (and the hub polls anyway).
 */
export function subscribeToCommits(
  config: Config,
  keys: Keys,
  logger: Logger,
  onCommit: (highestSeq?: number) => void,
): Redis {
  const redis = createRedis(config, 'blocking', `api-streams:${config.REPLICA_ID}`);
  redis.on('message', (channel: string, message: string) => {
    if (channel !== keys.committed) return;
    const seq = Number(message);
    onCommit(Number.isSafeInteger(seq) ? seq : undefined);
  });
  redis.on('ready', () => onCommit());
  redis.on('error', (error: Error) => logger.debug({ err: error.message }, 'commit subscriber: Redis error'));
  redis.subscribe(keys.committed).catch((e: unknown) => {
    logger.warn({ err: (e as Error).message }, 'could not subscribe to commit announcements; streams rely on the poll');
  });
  return redis;
}
