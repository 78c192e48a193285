import {
  coerceError,
  ensureReady,
  type Keys,
  type Logger,
  type Redis,
  readMirroredCounters,
  resyncFromStore,
  WORKER_LIVENESS_MS,
} from '@aggregator/common';
import type { z } from 'zod';
import type { statsSchema } from '../apiSchemas.js';
import { UnavailableError } from '../http/appErrors.js';
import { countPartitionJobs, type PartitionQueue, sumCounts } from '../publishing/partitionQueues.js';
import type { StoreProvider } from '../reading/storeProvider.js';

/**
 * The most topic names `/stats` lists (the first by name); `topic_count` counts them all and
 * `GET /topics` pages them. Every topic made the reply grow without bound (5 MB with 20,000).
 */
export const STATS_TOPICS = 100;

/** Everything `GET /stats` reports; the schema is in ../apiSchemas.ts (it also feeds the OpenAPI document). */
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
 * Reads the counters from the Redis hash and counts the topics. When Redis has no counters (a
 * fresh Redis, or one that lost its data) or fewer topics than the store, rebuilds them from the
 * store, which is the source of truth, and publishes them back. Then reads the first
 * `STATS_TOPICS` topic names from the store's topic index: never the whole set.
 */
async function countersAndTopics(deps: StatsDeps) {
  const [mirror, mirroredTopics] = await Promise.all([
    readMirroredCounters(deps.redis, deps.keys),
    deps.redis.scard(deps.keys.topics),
  ]);
  return deps.store.read(async (store) => {
    // Redis may have lost topics while keeping newer counters (a wipe followed by a job). A store
    // that cannot be read fails the request (503 store_unavailable), as /events does: the mirror
    // alone cannot tell whether it is whole.
    const storedTopics = await store.countTopics();
    let counters = mirror;
    if (!counters || storedTopics !== mirroredTopics) {
      counters = (await resyncFromStore(deps.redis, deps.keys, store)).counters;
      deps.logger.info({ counters }, 'rebuilt the Redis counters and topics from the store');
    }
    const first = storedTopics === 0 ? [] : await store.listTopicStats({ limit: STATS_TOPICS });
    return { ...counters, topicCount: storedTopics, topics: first.map((t) => t.topic) };
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
      topic_count: counters.topicCount,
      topics: counters.topics,
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
