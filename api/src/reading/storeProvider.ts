import { coerceError, isTransientFailure } from '@aggregator/common';
import {
  describeStore,
  type EventStoreReader,
  isSchemaVersionError,
  type OpenStoreOptions,
  openStoreReader,
  type StoreConfig,
} from '@aggregator/store';
import { UnavailableError } from '../http/appErrors.js';

/** Hands out the read-only store, opening it on first use (workers create it; the API only reads). */
export interface StoreProvider {
  /** Where the store is, for messages (`SQLite at …`, `PostgreSQL at host:port/db`). */
  readonly description: string;
  /**
   * Runs `fn` on the store.
   *
   * @throws UnavailableError (503, `store_unavailable`) while the store cannot be opened (no
   *   worker has created it, its schema is not this build's) or is unreachable
   */
  read<T>(fn: (reader: EventStoreReader) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Opens the store lazily and retries on every call until it can; an outage later is a 503 too. */
export function lazyStoreReader(config: StoreConfig, options: OpenStoreOptions = {}): StoreProvider {
  const description = describeStore(config);
  let opening: Promise<EventStoreReader> | undefined;
  const unavailable = (cause: Error, why: string) =>
    new UnavailableError('store_unavailable', `the store (${description}) ${why}: ${cause.message}`, {
      cause,
      retryAfterSeconds: 1,
    });
  const open = () => {
    opening ??= openStoreReader(config, options).catch((thrown: unknown) => {
      opening = undefined;
      const error = coerceError(thrown);
      throw unavailable(error, isSchemaVersionError(error) ? 'cannot be read' : 'cannot be read yet');
    });
    return opening;
  };
  return {
    description,
    async read(fn) {
      const reader = await open();
      try {
        return await fn(reader);
      } catch (thrown: unknown) {
        const error = coerceError(thrown);
        if (isTransientFailure(error)) throw unavailable(error, 'is unreachable');
        throw error;
      }
    },
    async close() {
      const reader = opening && (await opening.catch(() => undefined));
      opening = undefined;
      await reader?.close();
    },
  };
}
