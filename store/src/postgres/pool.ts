import type { Failpoints } from '@aggregator/common';
import pg from 'pg';

export interface PostgresOptions {
  /** `postgres://` or `postgresql://` URL (DATABASE_URL). */
  url: string;
  /** Most connections this process keeps open (DATABASE_POOL_SIZE). */
  poolSize: number;
  /**
   * Called when an idle pooled connection fails (the server restarted, a connection was killed).
   * The pool drops it and opens another on the next query; the application only logs it.
   */
  onConnectionError?: (error: Error) => void;
  /** Test-only: `store.before-commit` is hit inside each group commit (failpoints.ts). */
  failpoints?: Failpoints;
}

const INT8_OID = 20;

// bigint columns (seq, counters) come back as numbers: they stay far below 2^53, and every caller
// expects a number. Per pool, not global, so no other pg user in the process is affected.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * A connection pool on `options.url`. Nothing may wait for ever: connecting times out after 5 s;
 * on the server, waiting for a lock after 5 s (`lock_timeout`, SQLSTATE 55P03), a statement after
 * 30 s (57014) and a transaction left idle after 5 s; and TCP keep-alives find a peer that
 * vanished. Writers run in parallel, but a writer whose host froze mid-transaction still holds its
 * xid, and with it the visible head (readers see nothing newer), and the row locks of its last
 * statement (a topic's count, racing pairs): the server ends it after 5 s idle. No writer of ours
 * is idle inside a transaction for more than the time to build its next statement. Each of these
 * errors is transient: the job is retried with backoff.
 */
export function createPool(options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 5000,
    lock_timeout: 5000,
    statement_timeout: 30_000,
    idle_in_transaction_session_timeout: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types,
    application_name: 'aggregator',
  });
  // An 'error' event without a listener would crash the process.
  pool.on('error', (error) => options.onConnectionError?.(error));
  return pool;
}

/** Anything that runs a query: the pool, or one connection inside a transaction. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** How `inTransaction` begins: a read-write transaction, or a read-only snapshot. */
const BEGIN = {
  write: 'BEGIN',
  // One snapshot for every statement of the transaction, and no writes.
  snapshot: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
} as const;

/**
 * Runs `fn` in a transaction on one connection of the pool (`snapshot`: every statement sees the
 * same committed state, as of its first statement). A connection that failed (the server
 * cut it: a restart, `pg_terminate_backend`) or whose rollback failed is destroyed rather than
 * returned to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  mode: keyof typeof BEGIN = 'write',
): Promise<T> {
  const client = await pool.connect();
  // The pool listens for errors only on idle connections: while this one is checked out, a
  // connection cut by the server emits 'error' here, which without a listener would crash the
  // process. The query in flight fails with it too, so recording it is enough.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query(BEGIN[mode]);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e: unknown) {
    if (!broken) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
    }
    throw e;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
