import { coerceError, type EventStoreReader, openStoreReader, UnavailableError } from '@aggregator/common';

/** Hands out the read-only store, opening it on first use (workers create it; the API only reads). */
export interface StoreProvider {
  /** @throws UnavailableError (503, `store_unavailable`) while the store cannot be opened. */
  get(): EventStoreReader;
  close(): void;
}

/** Opens the SQLite file lazily and retries on every call until it exists. */
export function lazySqliteReader(path: string): StoreProvider {
  let reader: EventStoreReader | undefined;
  return {
    get() {
      if (reader) return reader;
      try {
        reader = openStoreReader(path);
        return reader;
      } catch (thrown: unknown) {
        throw new UnavailableError(
          'store_unavailable',
          `the store at ${path} cannot be read yet (has a worker started?)`,
          { cause: coerceError(thrown), retryAfterSeconds: 1 },
        );
      }
    },
    close() {
      reader?.close();
      reader = undefined;
    },
  };
}
