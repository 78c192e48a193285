import { liveChildren, type RedisServer, startRedisServer } from '@aggregator/load';
import { stopTestPostgres, testPostgresChild } from './postgres.js';

/**
 * Global fixtures: one private redis-server for the whole run (tests isolate themselves with a
 * unique key prefix), and a check after every test that no child process leaked.
 */
let redis: RedisServer | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  redis = await startRedisServer();
  process.env.TEST_REDIS_URL = redis.url;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await Promise.all([redis?.stop(), stopTestPostgres()]);
}

export const mochaHooks = {
  async afterEach(this: Mocha.Context) {
    const leaked = [...liveChildren()].filter((c) => c !== redis?.child && c !== testPostgresChild());
    if (leaked.length === 0) return;
    await Promise.all(leaked.map((c) => c.kill()));
    throw new Error(
      `child processes leaked by "${this.currentTest?.fullTitle()}": ${leaked.map((c) => c.name).join(', ')}`,
    );
  },
};
