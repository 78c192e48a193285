import { coerceError, type Keys, type Logger, type MirrorState, type Redis, resyncFromStore } from '@aggregator/common';
import type { EventStoreWriter } from '@aggregator/store';

/** How long the store remembers which jobs it applied; far longer than any redelivery window. */
export const APPLIED_JOB_RETENTION_MS = 7 * 24 * 3600 * 1000;
const RESYNC_MS = 5000;
const PRUNE_EVERY = 120; // resync rounds, i.e. every ten minutes

/**
 * What the log says when Redis's copy of the counters was made or mended. A first start is no
 * incident: only `lost` reports data Redis once held and no longer does.
 */
const MIRROR_REPAIRED: Record<Exclude<MirrorState, 'current'>, string> = {
  new: 'a new store and a fresh Redis: the counters start at zero',
  lost: 'Redis had lost counters or topics; republished them from the store',
  other_store: "Redis held another store's counters; replaced them with this store's",
};

/**
 * Keeps Redis's copy of the counters right without any job flowing: publishes the store's totals
 * at start-up and every few seconds (and every topic when Redis lost them), and prunes old
 * applied-job records. Returns a stop function.
 */
export function startMaintenance(store: EventStoreWriter, redis: Redis, keys: Keys, logger: Logger): () => void {
  let round = 0;
  let running = false;
  const resync = async () => {
    if (running) return;
    running = true;
    try {
      const { counters, state } = await resyncFromStore(redis, keys, store);
      if (state !== 'current') logger.info({ counters, mirror: state }, MIRROR_REPAIRED[state]);
      if (++round % PRUNE_EVERY === 0) {
        const pruned = await store.pruneAppliedJobs(Date.now() - APPLIED_JOB_RETENTION_MS);
        if (pruned > 0) logger.info({ pruned }, 'pruned old applied-job records');
      }
    } catch (e: unknown) {
      logger.warn({ err: coerceError(e).message }, 'counter resync failed; will retry');
    } finally {
      running = false;
    }
  };
  void resync();
  const timer = setInterval(resync, RESYNC_MS);
  timer.unref();
  return () => clearInterval(timer);
}
