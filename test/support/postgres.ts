import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDatabase,
  dropDatabase,
  hasPostgresBinaries,
  type ManagedChild,
  type PostgresServer,
  startPostgresServer,
} from '@aggregator/stack';

/**
 * The PostgreSQL of the test run: `TEST_DATABASE_URL` (a server whose user may create databases),
 * else one private server, started on first use (suites that never touch PostgreSQL do not pay
 * for it) and stopped by the global teardown (hooks.ts). Each test gets a fresh database.
 */
let starting: Promise<PostgresServer> | undefined;
let started: PostgresServer | undefined;

/**
 * Why PostgreSQL tests cannot run here, or undefined when they can. `ownServer`: the test starts
 * servers of its own (`withPrivatePostgres`), so `TEST_DATABASE_URL` is not enough.
 */
export function postgresUnavailable(ownServer = false): string | undefined {
  if (hasPostgresBinaries()) return undefined;
  if (process.env.TEST_DATABASE_URL && !ownServer) return undefined;
  return ownServer
    ? 'PostgreSQL is not installed (apt-get install postgresql); this test starts servers of its own'
    : 'PostgreSQL is not installed (apt-get install postgresql) and TEST_DATABASE_URL is not set';
}

/**
 * For a `before` hook of a PostgreSQL suite: skips it when PostgreSQL is missing, except in CI
 * (`CI` set), where a missing tool is a failure rather than a silent skip.
 */
export function requirePostgres(context: Mocha.Context, options: { ownServer?: boolean } = {}): void {
  const why = postgresUnavailable(options.ownServer);
  if (!why) return;
  if (process.env.CI) throw new Error(`${why}; CI must install it (.ci/run)`);
  context.skip();
}

async function adminUrl(): Promise<string> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) return external;
  starting ??= startPostgresServer().then((server) => {
    started = server;
    return server;
  });
  return (await starting).url;
}

/** The private server's process, if started (the leak check in hooks.ts leaves it alone). */
export function testPostgresChild(): ManagedChild | undefined {
  return started?.child;
}

/** Stops the private server, if one was started, and removes the cluster of `withPrivatePostgres`. */
export async function stopTestPostgres(): Promise<void> {
  const server = await starting?.catch(() => undefined);
  starting = undefined;
  started = undefined;
  await server?.stop();
  if (privateClusterDir) rmSync(privateClusterDir, { recursive: true, force: true });
  privateClusterDir = undefined;
}

/** A new empty database for `fn`, dropped afterwards (connections still open are cut). */
export async function withTestDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = await adminUrl();
  const name = databaseName();
  const url = await createDatabase(admin, name);
  try {
    return await fn(url);
  } finally {
    await dropDatabase(admin, name);
  }
}

/** The cluster directory `withPrivatePostgres` starts its servers on: `initdb` runs once per test run. */
let privateClusterDir: string | undefined;

/** A fresh database name, plain enough to need no quoting. */
function databaseName(): string {
  return `aggregator_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/**
 * A PostgreSQL server of the test's own, which it may shut down, restart or cut connections of
 * without disturbing other tests, with a fresh database (`url`). The cluster is initialised once
 * per run (initdb takes seconds on a loaded machine) and reused by each such test in turn; the
 * server is stopped when `fn` ends. Always a local server, even with `TEST_DATABASE_URL`.
 */
export async function withPrivatePostgres<T>(fn: (server: PostgresServer, url: string) => Promise<T>): Promise<T> {
  privateClusterDir ??= mkdtempSync(join(tmpdir(), 'aggregator-pg-private-'));
  const server = await startPostgresServer({ dir: privateClusterDir });
  try {
    const url = await server.createDatabase(databaseName());
    return await fn(server, url);
  } finally {
    await server.stop();
  }
}
