import {
  coerceError,
  ensureReady,
  type Keys,
  type Logger,
  type Redis,
  readMirroredCounters,
  resyncFromStore,
  type statsSchema,
  UnavailableError,
} from '@aggregator/common';
import type { z } from 'zod';
import { countPartitionJobs, type PartitionQueue, sumCounts } from './partitionQueues.js';
import type { StoreProvider } from './storeProvider.js';

/** A worker is live while its heartbeat is younger than this (it beats every 2 s). */
export const WORKER_LIVENESS_MS = 10_000;

/** Everything `GET /stats` reports; the schema lives in common (it also feeds the OpenAPI document). */
export type Stats = z.output<typeof statsSchema>;

export interface StatsDeps {
  redis: Redis;
  /** The queue of every partition. */
  queues: readonly PartitionQueue[];
  keys: Keys;
  store: StoreProvider;
  logger: Logger;
}

/**
 * Reads the counters from the Redis hash. When Redis has none (a fresh Redis, or one that lost its
 * data), rebuilds them from the store, which is the source of truth, and publishes them back.
 */
async function countersAndTopics(deps: StatsDeps) {
  const [mirror, topics] = await Promise.all([
    readMirroredCounters(deps.redis, deps.keys),
    deps.redis.smembers(deps.keys.topics),
  ]);
  if (mirror) {
    // Redis may have lost topics while keeping newer counters (a wipe followed by a job). A store
    // that cannot be read fails the request (503 store_unavailable), as /events does: the mirror
    // alone cannot tell whether it is whole.
    const storedTopics = await deps.store.read((store) => store.countTopics());
    if (storedTopics === topics.length) return { ...mirror, topics };
  }
  return deps.store.read(async (store) => {
    const { counters } = await resyncFromStore(deps.redis, deps.keys, store);
    deps.logger.info({ counters }, 'rebuilt the Redis counters and topics from the store');
    return { ...counters, topics: await store.listTopics() };
  });
}

/** Everything `GET /stats` reports. */
export async function readStats(deps: StatsDeps): Promise<Stats> {
  try {
    await ensureReady(deps.redis, 500);
    const now = Date.now();
    // The queue is read before the counters: a worker publishes its counters before it removes
    // its job, so a reply that shows an empty queue always carries the final counters.
    const partitions = await countPartitionJobs(deps.queues);
    const [counters, workers] = await Promise.all([
      countersAndTopics(deps),
      deps.redis.zcount(deps.keys.workers, now - WORKER_LIVENESS_MS, '+inf'),
    ]);
    return {
      received: counters.received,
      unique_processed: counters.unique_processed,
      duplicate_dropped: counters.duplicate_dropped,
      topics: [...counters.topics].sort(),
      uptime_seconds: Math.max(0, Math.floor((now - counters.created_at) / 1000)),
      queue: sumCounts(partitions),
      partitions,
      workers,
    };
  } catch (thrown: unknown) {
    if (thrown instanceof UnavailableError || deps.redis.status === 'ready') throw thrown;
    // Anything else while the connection is down is the outage itself.
    throw new UnavailableError('redis_unavailable', 'Redis is unavailable; retry later', {
      cause: coerceError(thrown),
    });
  }
}
