import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, coerceError, isTransientFailure, type Logger, parseFailpoints } from '@aggregator/common';
import { describeStore, type EventStoreWriter, openStoreWriter, storeKind } from '@aggregator/store';

const MAX_DELAY_MS = 10_000;

/**
 * Opens (and migrates) the store. PostgreSQL may be down or still starting when a worker starts
 * (another host, another container): the worker waits for it, retrying with exponential backoff
 * and a readable log line per attempt, rather than exiting. A SQLite store that cannot be opened
 * is a local problem (a path, a permission): it fails at once. So does any error that is not an
 * outage, e.g. a schema newer than this build.
 */
export async function openStoreWithRetry(config: Config, logger: Logger): Promise<EventStoreWriter> {
  const onConnectionError = (error: Error) =>
    logger.warn({ err: error.message }, 'an idle store connection failed; the pool replaces it');
  for (let attempt = 1; ; attempt++) {
    try {
      return await openStoreWriter(config, {
        onConnectionError,
        failpoints: parseFailpoints(config.AGGREGATOR_FAILPOINTS),
      });
    } catch (thrown: unknown) {
      const error = coerceError(thrown);
      if (storeKind(config) === 'sqlite' || !isTransientFailure(error)) throw error;
      const delayMs = Math.min(config.JOB_BACKOFF_MS * 2 ** (attempt - 1), MAX_DELAY_MS);
      logger.warn(
        { err: error.message, attempt, retryInMs: delayMs },
        `${describeStore(config)} cannot be reached yet; retrying`,
      );
      await sleep(delayMs);
    }
  }
}
