import type { Config, Failpoints } from '@aggregator/common';
import type { EventStoreReader, EventStoreWriter, StoreKind } from './eventStore.js';
import { postgresLocation } from './location.js';

/** The configuration a store is opened from (README, "Configuration"). */
export type StoreConfig = Pick<
  Config,
  'DATABASE_URL' | 'DATABASE_POOL_SIZE' | 'SQLITE_PATH' | 'SQLITE_SYNCHRONOUS' | 'SQLITE_BUSY_TIMEOUT_MS'
>;

export interface OpenStoreOptions {
  /** PostgreSQL: an idle pooled connection failed (the pool replaces it); for the log. */
  onConnectionError?: (error: Error) => void;
  /** Test-only crash and freeze points (`store.before-commit`); none by default. */
  failpoints?: Failpoints;
}

/** `postgres` when DATABASE_URL is set (the configuration accepts only postgres:// URLs), else `sqlite`. */
export function storeKind(config: Pick<Config, 'DATABASE_URL'>): StoreKind {
  return config.DATABASE_URL === undefined ? 'sqlite' : 'postgres';
}

// Each adapter is imported only when chosen: a SQLite process never loads `pg`, and a PostgreSQL
// one never loads the native better-sqlite3 addon (it need not even be built for its platform).

/**
 * Opens the store for writing (workers), creating or migrating its schema.
 *
 * @throws SchemaVersionError when the store is newer than this build; a driver error when the
 *   database cannot be opened or reached
 */
export async function openStoreWriter(config: StoreConfig, options: OpenStoreOptions = {}): Promise<EventStoreWriter> {
  if (config.DATABASE_URL !== undefined) {
    const { openPostgresWriter } = await import('./postgres/postgresStore.js');
    return openPostgresWriter({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, ...options });
  }
  const { openSqliteWriter } = await import('./sqlite/sqliteStore.js');
  return openSqliteWriter(config.SQLITE_PATH, {
    synchronous: config.SQLITE_SYNCHRONOUS,
    busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
  });
}

/**
 * Opens an existing store for reading (API replicas).
 *
 * @throws SchemaVersionError when the store's schema is not this build's; a driver error when no
 *   worker has created the store yet or it cannot be reached
 */
export async function openStoreReader(config: StoreConfig, options: OpenStoreOptions = {}): Promise<EventStoreReader> {
  if (config.DATABASE_URL !== undefined) {
    const { openPostgresReader } = await import('./postgres/postgresStore.js');
    return openPostgresReader({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, ...options });
  }
  const { openSqliteReader } = await import('./sqlite/sqliteStore.js');
  return openSqliteReader(config.SQLITE_PATH, { busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS });
}

/** Where the configured store is, with no secret in it (for logs and messages). */
export function describeStore(config: Pick<Config, 'DATABASE_URL' | 'SQLITE_PATH'>): string {
  return config.DATABASE_URL === undefined
    ? `SQLite at ${config.SQLITE_PATH}`
    : `PostgreSQL at ${postgresLocation(config.DATABASE_URL)}`;
}
