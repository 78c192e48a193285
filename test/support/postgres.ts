import { randomUUID } from 'node:crypto';
import {
  createDatabase,
  dropDatabase,
  hasPostgresBinaries,
  type ManagedChild,
  type PostgresServer,
  startPostgresServer,
} from '@aggregator/load';

/**
 * The PostgreSQL of the test run: `TEST_DATABASE_URL` (a server whose user may create databases),
 * else one private server, started on first use (suites that never touch PostgreSQL do not pay
 * for it) and stopped by the global teardown (hooks.ts). Each test gets a fresh database.
 */
let starting: Promise<PostgresServer> | undefined;
let started: PostgresServer | undefined;

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (process.env.TEST_DATABASE_URL || hasPostgresBinaries()) return undefined;
  return 'PostgreSQL is not installed (apt-get install postgresql) and TEST_DATABASE_URL is not set';
}

/**
 * For a `before` hook of a PostgreSQL suite: skips it when PostgreSQL is missing, except in CI
 * (`CI` set), where a missing tool is a failure rather than a silent skip.
 */
export function requirePostgres(context: Mocha.Context): void {
  const why = postgresUnavailable();
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

/** Stops the private server, if one was started. */
export async function stopTestPostgres(): Promise<void> {
  const server = await starting?.catch(() => undefined);
  starting = undefined;
  started = undefined;
  await server?.stop();
}

/** A new empty database for `fn`, dropped afterwards (connections still open are cut). */
export async function withTestDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = await adminUrl();
  const name = `aggregator_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const url = await createDatabase(admin, name);
  try {
    return await fn(url);
  } finally {
    await dropDatabase(admin, name);
  }
}
