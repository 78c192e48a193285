import type { Config } from '@aggregator/common';
import { storeKind } from '@aggregator/store';
import Database from 'better-sqlite3';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './postgres.js';
import { type ProcessStack, type ProcessStackOptions, withProcessStack } from './processStack.js';
import { requireTool } from './requireTool.js';
import { REDIS_SERVER } from './tools.js';
import { type InProcessStack, withStack } from './withStack.js';

/**
 * The stores the process-level suites run against. A suite is declared once per store:
 *
 *     for (const store of STORES) describe(`crash consistency (${store.name})`, function () {
 *       before(function () { store.require(this); });
 *       it('…', () => withProcessStackOn(store, {}, async (stack) => …));
 *     });
 */
export interface TestStore {
  name: 'SQLite' | 'PostgreSQL';
  /** For a `before` hook: skips the suite (fails it in CI) when Redis or the store's server is missing. */
  require(context: Mocha.Context): void;
  /**
   * The configuration that puts `fn`'s stack on a fresh store of this kind: nothing for SQLite
   * (every stack has a temp file of its own), `DATABASE_URL` of a new database for PostgreSQL.
   */
  withEnv<T>(fn: (env: Record<string, string>) => Promise<T>): Promise<T>;
  /**
   * Workers for a test about several writers: 4 on PostgreSQL, whose writers run in parallel and
   * must keep tailing and counting exact with that many; 2 on SQLite, whose one file has one writer
   * at a time whatever their number.
   */
  writers: number;
}

/** Every stack needs Redis besides its store. */
const requireRedis = requireTool(REDIS_SERVER);

export const STORES: readonly TestStore[] = [
  { name: 'SQLite', require: (context) => requireRedis.call(context), withEnv: (fn) => fn({}), writers: 2 },
  {
    name: 'PostgreSQL',
    require: (context) => {
      requireRedis.call(context);
      requirePostgres(context);
    },
    withEnv: (fn) => withTestDatabase((url) => fn({ DATABASE_URL: url })),
    writers: 4,
  },
];

/**
 * Where a process-level suite runs: a store, and one redis-server or a Redis Cluster (3 masters,
 * 3 replicas, `QUEUE_PARTITIONS=4`). Every store runs on one Redis; the cluster runs with SQLite
 * only, since what it changes (queues, fast path and counters spread over shards, failovers) sits
 * in front of the store and is the same whichever store is behind.
 */
export interface TestSetup {
  name: string;
  store: TestStore;
  redis: 'single' | 'cluster';
}

const [SQLITE] = STORES as [TestStore];

export const SETUPS: readonly TestSetup[] = [
  ...STORES.map((store) => ({ name: store.name, store, redis: 'single' as const })),
  { name: `${SQLITE.name}, Redis Cluster`, store: SQLITE, redis: 'cluster' },
];

/** `withProcessStack` (real entrypoints as child processes) on a fresh store of `store`'s kind. */
export function withProcessStackOn<T>(
  store: TestStore,
  options: ProcessStackOptions,
  fn: (stack: ProcessStack) => Promise<T>,
): Promise<T> {
  return store.withEnv((env) => withProcessStack({ ...options, env: { ...options.env, ...env } }, fn));
}

/** `withStack` (API and workers in this process) on a fresh store of `store`'s kind. */
export function withStackOn<T>(
  store: TestStore,
  options: { workers?: number; env?: Record<string, string> },
  fn: (stack: InProcessStack) => Promise<T>,
): Promise<T> {
  return store.withEnv((env) => withStack({ ...options, env: { ...options.env, ...env } }, fn));
}

/** Deletes the stored row of one event behind the service's back, in whichever store `config` names. */
export async function deleteStoredEvent(
  config: Pick<Config, 'DATABASE_URL' | 'SQLITE_PATH'>,
  topic: string,
  eventId: string,
): Promise<void> {
  if (storeKind(config) === 'sqlite') {
    const db = new Database(config.SQLITE_PATH);
    try {
      db.prepare('DELETE FROM events WHERE topic = ? AND event_id = ?').run(topic, eventId);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  try {
    await client.query('DELETE FROM events WHERE topic = $1 AND event_id = $2', [topic, eventId]);
  } finally {
    await client.end();
  }
}
