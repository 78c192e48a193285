/**
 * Failures as every process sees them: anything thrown made an `Error` once, and a low-level
 * failure (a driver's code, a Redis refusal) classified as retryable or not in one table. The
 * errors a client sees (`AppError` and its codes) are the API's: api/src/http/appErrors.ts.
 */

/** Turns anything thrown into an `Error`, so `catch (e: unknown)` is handled in one way. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${String(thrown)}`);
}

/** What a low-level failure means for a job: retry it later, or give up. */
export interface FailureClass {
  retryable: boolean;
  /** A short reason for the log line. */
  reason: string;
}

// The one table of the low-level error codes we know, for every driver: SQLite result codes,
// PostgreSQL SQLSTATEs, errno names. Anything not here is treated as retryable too (a bug fixed by
// a deploy should not have destroyed the job), but logged as unexpected.
const KNOWN_FAILURES: Record<string, FailureClass> = {
  SQLITE_BUSY: { retryable: true, reason: 'the SQLite database is locked by another writer' },
  SQLITE_LOCKED: { retryable: true, reason: 'a SQLite table is locked' },
  SQLITE_FULL: { retryable: true, reason: 'the disk holding the SQLite database is full' },
  SQLITE_IOERR: { retryable: true, reason: 'SQLite could not read or write its files' },
  SQLITE_CANTOPEN: { retryable: true, reason: 'SQLite could not open its database file' },
  SQLITE_READONLY: { retryable: true, reason: 'the SQLite database is read-only' },
  SQLITE_CORRUPT: { retryable: false, reason: 'the SQLite database is corrupt' },
  '40001': { retryable: true, reason: 'PostgreSQL serialization failure' },
  '40P01': { retryable: true, reason: 'PostgreSQL detected a deadlock' },
  '55P03': { retryable: true, reason: 'a PostgreSQL lock is not available (lock_timeout)' },
  '57014': { retryable: true, reason: 'a PostgreSQL statement was cancelled (statement_timeout)' },
  '25P03': { retryable: true, reason: 'a PostgreSQL transaction was left idle too long' },
  '57P01': { retryable: true, reason: 'PostgreSQL is shutting down (admin shutdown)' },
  '57P02': { retryable: true, reason: 'PostgreSQL crashed (crash shutdown)' },
  '57P03': { retryable: true, reason: 'PostgreSQL is starting up and cannot take connections yet' },
  '53100': { retryable: true, reason: 'the disk holding PostgreSQL is full' },
  '53300': { retryable: true, reason: 'PostgreSQL has too many connections' },
  '08000': { retryable: true, reason: 'the PostgreSQL connection failed' },
  '08001': { retryable: true, reason: 'PostgreSQL could not be connected to' },
  '08003': { retryable: true, reason: 'the PostgreSQL connection does not exist' },
  '08006': { retryable: true, reason: 'the PostgreSQL connection failed' },
  ECONNREFUSED: { retryable: true, reason: 'the server (Redis or PostgreSQL) refused the connection' },
  ECONNRESET: { retryable: true, reason: 'the connection (Redis or PostgreSQL) was reset' },
  ETIMEDOUT: { retryable: true, reason: 'the server (Redis or PostgreSQL) did not answer in time' },
  ENOTFOUND: { retryable: true, reason: "the server's host name does not resolve" },
  EAI_AGAIN: { retryable: true, reason: "the server's host name does not resolve yet" },
  ENOSPC: { retryable: true, reason: 'the disk is full' },
};

/**
 * Redis replies that refuse a write while reads still work: `OOM` (used memory above `maxmemory`
 * with `noeviction`) and `READONLY` (the node is a replica, e.g. a master demoted in a failover).
 */
const REDIS_REFUSES_WRITES = /^(OOM|READONLY) /;

// Failures that node-postgres and ioredis report with a message and no code.
const KNOWN_MESSAGES: Array<[RegExp, FailureClass]> = [
  [/Connection is closed|Stream isn't writeable/, { retryable: true, reason: 'Redis is unreachable' }],
  [REDIS_REFUSES_WRITES, { retryable: true, reason: 'Redis refuses writes (OOM at maxmemory, or READONLY replica)' }],
  [
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/,
    { retryable: true, reason: 'the PostgreSQL connection was lost' },
  ],
  [/ECONNREFUSED/, { retryable: true, reason: 'the server (Redis or PostgreSQL) refused the connection' }],
];

/**
 * Classifies a failure by its `code` (SQLite result codes, PostgreSQL SQLSTATEs, errno names), or
 * by its message for the few driver errors without one. `known` is false for anything else.
 */
export function classifyFailure(error: Error): FailureClass & { code: string | undefined; known: boolean } {
  const raw = (error as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : undefined;
  const base = code?.startsWith('SQLITE_IOERR') ? 'SQLITE_IOERR' : code;
  const known = base ? KNOWN_FAILURES[base] : undefined;
  if (known) return { ...known, code, known: true };
  const byMessage = KNOWN_MESSAGES.find(([pattern]) => pattern.test(error.message));
  if (byMessage) return { ...byMessage[1], code, known: true };
  return { retryable: true, reason: 'unexpected error', code, known: false };
}

/**
 * True for a known retryable failure: an outage or contention (busy lock, lost connection,
 * serialization failure, full disk) that would fail a retry at once just as well, as opposed to a
 * problem with one job's data.
 */
export function isTransientFailure(error: Error): boolean {
  const failure = classifyFailure(error);
  return failure.known && failure.retryable;
}

/** True when Redis refused a write but is up: out of memory at `maxmemory`, or a read-only replica. */
export function isRedisWriteRefusal(error: Error): boolean {
  return REDIS_REFUSES_WRITES.test(error.message);
}
