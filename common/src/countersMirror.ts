import type { Keys } from './keys.js';
import { PUBLISH_COUNTERS } from './lua/publishCounters.js';
import type { Redis } from './redis.js';
import { withScript } from './scripts.js';
import type { Counters, StoreCounters } from './types.js';

// Lua's unpack() has a stack limit of a few thousand values; stay well under it.
const TOPICS_PER_CALL = 1000;

type PipelineResult = Array<[Error | null, unknown]> | null;

/** The counters script as a command (see lua/publishCounters.ts for its keys and arguments). */
interface PublishCountersCommand {
  publishCounters(...keysThenArgs: Array<string | number>): Promise<number>;
}

/**
 * Publishes the store's totals to the Redis stats hash (see lua/publishCounters.ts: the largest
 * value wins, so publishing late or twice is harmless) and adds `topics` to the topic set, in one
 * round trip (a pipeline of one script call per 1,000 topics).
 */
export async function publishCounters(
  redis: Redis,
  keys: Keys,
  counters: StoreCounters,
  topics: readonly string[] = [],
): Promise<void> {
  const scripted = withScript<PublishCountersCommand>(redis, 'publishCounters', 2, PUBLISH_COUNTERS);
  const pipeline = scripted.pipeline() as unknown as PublishCountersCommand & { exec(): Promise<PipelineResult> };
  let offset = 0;
  do {
    pipeline.publishCounters(
      keys.stats,
      keys.topics,
      counters.received,
      counters.unique_processed,
      counters.duplicate_dropped,
      counters.created_at,
      counters.store_id,
      ...topics.slice(offset, offset + TOPICS_PER_CALL),
    );
    offset += TOPICS_PER_CALL;
  } while (offset < topics.length);
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error !== null);
  if (!results || failed) throw failed?.[0] ?? new Error('the Redis pipeline was discarded');
}

/** The mirrored counters, or undefined when Redis has none (fresh, or its data was lost). */
export interface MirroredCounters extends Counters {
  created_at: number;
}

export async function readMirroredCounters(redis: Redis, keys: Keys): Promise<MirroredCounters | undefined> {
  const hash = await redis.hgetall(keys.stats);
  const fields = ['received', 'unique_processed', 'duplicate_dropped', 'created_at'] as const;
  if (!fields.every((f) => hash[f] !== undefined)) return undefined;
  return {
    received: Number(hash.received),
    unique_processed: Number(hash.unique_processed),
    duplicate_dropped: Number(hash.duplicate_dropped),
    created_at: Number(hash.created_at),
  };
}

/** What the resync reads from the store (a structural slice of the store's reader interface). */
export interface CountersSource {
  readCounters(): Promise<StoreCounters>;
  countTopics(): Promise<number>;
  listTopics(): Promise<string[]>;
}

/**
 * What a resync found Redis's copy to be, so the log can tell a first start from a loss:
 * - `current`: it mirrors this store; only the totals are published (a no-op when right).
 * - `new`: a fresh Redis and an empty store (the first start of a new installation): there is
 *   nothing to restore, the copy is simply made.
 * - `lost`: the store holds counters or topics Redis lacks (Redis's data was wiped or lost, or a
 *   new Redis serves an existing store): every topic is republished.
 * - `other_store`: Redis mirrored another store (another store_id): it is rewritten for this one.
 */
export type MirrorState = 'current' | 'new' | 'lost' | 'other_store';

/** The state of the copy, from the store's and Redis's view of the same facts (no I/O). */
export function mirrorState(
  store: { storeId: string; topics: number; counters: Counters },
  mirror: { storeId: string | null; topics: number },
): MirrorState {
  if (mirror.storeId === store.storeId && mirror.topics === store.topics) return 'current';
  if (mirror.storeId !== null && mirror.storeId !== store.storeId) return 'other_store';
  const storeEmpty = store.topics === 0 && store.counters.received === 0;
  return mirror.storeId === null && mirror.topics === 0 && storeEmpty ? 'new' : 'lost';
}

/**
 * Makes Redis's copy of the counters and topics match the store, the source of truth: publishes
 * the store's totals (harmless when Redis is already right: the largest value wins) and, when
 * Redis lost topics (its data was wiped, or the hash was reset for another store), every topic.
 * Used by the workers every few seconds and by the API when `/stats` finds nothing in Redis.
 *
 * @returns the counters published and what Redis's copy was before (anything but `current`
 *   republished every topic)
 */
export async function resyncFromStore(
  redis: Redis,
  keys: Keys,
  store: CountersSource,
): Promise<{ counters: StoreCounters; state: MirrorState }> {
  const [counters, storedTopics, mirroredStore, mirroredTopics] = await Promise.all([
    store.readCounters(),
    store.countTopics(),
    redis.hget(keys.stats, 'store_id'),
    redis.scard(keys.topics),
  ]);
  const state = mirrorState(
    { storeId: counters.store_id, topics: storedTopics, counters },
    { storeId: mirroredStore, topics: mirroredTopics },
  );
  await publishCounters(redis, keys, counters, state === 'current' ? [] : await store.listTopics());
  return { counters, state };
}
