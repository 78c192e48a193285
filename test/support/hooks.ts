import { type RedisServer, startRedisServer } from '@aggregator/stack';
import { failOnLeakedChildren } from './childLeaks.js';
import { stopTestPostgres, testPostgresChild } from './postgres.js';
import { toolsPresent } from './requireTool.js';
import { REDIS_SERVER } from './tools.js';

/**
 * Global fixtures of the full suite (.mocharc.json): one private redis-server for the whole run
 * (tests isolate themselves with a unique key prefix), and a check after every test that no child
 * process leaked. Without redis-server the run goes on locally and the suites that need Redis skip
 * (their `before(requireTool(REDIS_SERVER))` says so); in CI it fails at once.
 */
let redis: RedisServer | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (!toolsPresent([REDIS_SERVER], 'the suites that need Redis')) return;
  redis = await startRedisServer();
  process.env.TEST_REDIS_URL = redis.url;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await Promise.all([redis?.stop(), stopTestPostgres()]);
}

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    return failOnLeakedChildren(this.currentTest, redis?.child, testPostgresChild());
  },
};
