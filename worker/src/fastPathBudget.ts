import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Config,
  coerceError,
  isTransientFailure,
  type Logger,
  type MemoryBudget,
  type Redis,
  type RedisMemory,
  readRedisMemory,
} from '@aggregator/common';

/**
 * How the fast path spends its memory (see lua/fastPathClaim.ts): claims in
 * `generations` generations looked in, plus one being deleted, each made of hashes of about
 * `claimsPerShard` claims so that Redis keeps them as listpacks (`hash-max-listpack-entries`,
 * 128 by default; at 64 on average, a hash over 128 is a once-in-10^12 event).
 *
 * Two generations: a new pair costs one lookup per generation plus its write, and Redis CPU per
 * claim grew with each generation added (measured with `npm run bench:fastpath`: 1, 2, 3, 4
 * generations cost about 1, 1.3, 1.7 and 2.5 times one); two keep between a third and two thirds
 * of the budget's claims, so a rotation never empties the fast path.
 */
export const FAST_PATH_LAYOUT = {
  generations: 2,
  claimsPerShard: 64,
  /**
   * Redis memory of one claim in a full generation, all included (listpack field and value, the
   * hash's key and its share of Redis' dictionaries, allocator rounding): 35–37 bytes measured
   * (`npm run bench:fastpath`), rounded up. test/fastPathMemory.test.ts holds `used_memory` per claim
   * under it, for the largest pairs too. A generation that rotates on time before it is full costs
   * more per claim but less in all, since its hashes are fewer than its claims would fill.
   */
  bytesPerClaim: 44,
  /** The budget when it is a share of `maxmemory` and Redis has none. */
  unlimitedRedisBudget: 256 * 1024 ** 2,
} as const;

/** The numbers the claim script needs for one partition. */
export interface FastPathGeometry {
  /** Bytes this partition may use. */
  budgetBytes: number;
  /** Claims a generation holds before the next starts. */
  capacity: number;
  /** Hashes of a new generation. */
  shards: number;
  /** Longest time a generation is the newest, ms (the window is `GENERATIONS` of them). */
  spanMs: number;
  generations: number;
}

/**
 * The budget of one partition: an absolute budget is split evenly over the partitions; a share is
 * taken of the smallest `maxmemory` among the masters and split over every partition, since
 * partitions hash to slots at random and could all share one master.
 */
export function partitionBudget(
  budget: MemoryBudget,
  masters: readonly Pick<RedisMemory, 'max'>[],
  partitions: number,
): number {
  if ('bytes' in budget) return Math.floor(budget.bytes / partitions);
  const limits = masters.map((m) => m.max).filter((max) => max > 0);
  const base = limits.length > 0 ? Math.min(...limits) : FAST_PATH_LAYOUT.unlimitedRedisBudget / budget.share;
  return Math.floor((base * budget.share) / partitions);
}

/** Sizes the generations so that all of them, the one being deleted included, fit the budget. */
export function fastPathGeometry(budgetBytes: number, windowSeconds: number): FastPathGeometry {
  const { generations, claimsPerShard, bytesPerClaim } = FAST_PATH_LAYOUT;
  const capacity = Math.max(claimsPerShard, Math.floor(budgetBytes / ((generations + 1) * bytesPerClaim)));
  return {
    budgetBytes,
    capacity,
    shards: Math.ceil(capacity / claimsPerShard),
    spanMs: Math.max(1, Math.ceil((windowSeconds * 1000) / generations)),
    generations,
  };
}

/** The longest wait between two tries to read the masters' memory at start-up. */
const MAX_RETRY_MS = 2000;

/**
 * The memory of the masters that answer. The budget is a share of their `maxmemory`: on a cluster,
 * wait until they are known. A worker may start while Redis is down or a master fails over (a
 * supervisor restarting it in the middle of an outage): it waits, with a log line per try, rather
 * than exiting; BullMQ would wait for Redis next anyway.
 */
async function readMastersMemory(redis: Redis, logger: Logger): Promise<RedisMemory[]> {
  for (let attempt = 1; ; attempt++) {
    if (redis.isCluster && redis.status !== 'ready') await new Promise((ready) => redis.once('ready', ready));
    try {
      const masters = await readRedisMemory(redis);
      if (masters.length > 0) return masters;
    } catch (e: unknown) {
      const error = coerceError(e);
      if (!isTransientFailure(error)) throw error;
      const retryInMs = Math.min(100 * 2 ** (attempt - 1), MAX_RETRY_MS);
      logger.warn(
        { err: error.message, attempt, retryInMs },
        'Redis cannot be reached yet to size the fast path; retrying',
      );
      await sleep(retryInMs);
    }
  }
}

/**
 * The geometry of every partition's fast path, from the configuration and what Redis says of its
 * memory (read once, at start-up: a changed `maxmemory` takes effect at the next start). Warns when
 * Redis would not keep the claims' hashes compact, which would make them cost several times the
 * budget's estimate.
 */
export async function readFastPathGeometry(
  redis: Redis,
  config: Pick<Config, 'DEDUP_MEMORY_BUDGET' | 'DEDUP_TTL_SECONDS' | 'QUEUE_PARTITIONS'>,
  logger: Logger,
): Promise<FastPathGeometry> {
  const masters = await readMastersMemory(redis, logger);
  const geometry = fastPathGeometry(
    partitionBudget(config.DEDUP_MEMORY_BUDGET, masters, config.QUEUE_PARTITIONS),
    config.DEDUP_TTL_SECONDS,
  );
  try {
    const [, entries] = (await redis.config('GET', 'hash-max-listpack-entries')) as string[];
    if (entries !== undefined && Number(entries) < 2 * FAST_PATH_LAYOUT.claimsPerShard) {
      logger.warn(
        { entries: Number(entries), needed: 2 * FAST_PATH_LAYOUT.claimsPerShard },
        'Redis hash-max-listpack-entries is low: fast-path claims will use several times their memory budget',
      );
    }
  } catch (e: unknown) {
    logger.debug({ err: coerceError(e).message }, 'could not read hash-max-listpack-entries (CONFIG may be disabled)');
  }
  return geometry;
}
