import { join } from 'node:path';
import {
  type BatchJobData,
  createRedis,
  type Event,
  keysFromConfig,
  loadConfig,
  parseFailpoints,
  quitRedis,
  type Redis,
  waitReady,
} from '@aggregator/common';
import { startRedisServer } from '@aggregator/stack';
import { openStoreWriter } from '@aggregator/store';
import { FastPath, fastPathGeometry, GroupCommitter, type ProcessDeps, processBatch } from '@aggregator/worker';
import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { makeEvent, withTempDir } from './support/withStack.js';

/** Ways a running Redis refuses writes while it still answers reads. */
const REFUSALS = [
  {
    name: 'out of memory at maxmemory (OOM)',
    refuse: (admin: Redis) => admin.config('SET', 'maxmemory', '1'),
    allow: (admin: Redis) => admin.config('SET', 'maxmemory', '0'),
  },
  {
    // As a master demoted by a failover is; its master (port 1) is unreachable, so nothing syncs.
    name: 'a read-only replica (READONLY)',
    refuse: (admin: Redis) => admin.replicaof('127.0.0.1', 1),
    allow: (admin: Redis) => admin.replicaof('NO', 'ONE'),
  },
];

/**
 * `processBatch` with real parts (a redis-server of the test's own, a SQLite store), the worker's
 * deps as main.ts wires them.
 */
async function withWorkerDeps<T>(fn: (deps: ProcessDeps, admin: Redis) => Promise<T>): Promise<T> {
  const server = await startRedisServer();
  try {
    return await withTempDir(async (dir) => {
      const config = loadConfig({
        REDIS_URL: server.url,
        REDIS_PREFIX: 'refusal',
        SQLITE_PATH: join(dir, 'aggregator.db'),
        LOG_LEVEL: 'silent',
      });
      const keys = keysFromConfig(config);
      const redis = createRedis(config, 'blocking', 'test-worker');
      const admin = createRedis(config, 'blocking', 'test-admin');
      const store = await openStoreWriter(config);
      try {
        await Promise.all([waitReady(redis, 5000), waitReady(admin, 5000)]);
        const deps: ProcessDeps = {
          store,
          committer: new GroupCommitter(store),
          fastPath: new FastPath(redis, keys.queue(0), fastPathGeometry(1024 ** 2, config.DEDUP_TTL_SECONDS)),
          redis,
          keys,
          failpoints: parseFailpoints(undefined),
        };
        return await fn(deps, admin);
      } finally {
        await store.close();
        await Promise.all([quitRedis(redis), quitRedis(admin)]);
      }
    });
  } finally {
    await server.stop();
  }
}

const job = (events: Event[]): BatchJobData => ({ events, acceptedAt: Date.now() });

describe('fast path when Redis refuses writes', () => {
  before(requireTool(REDIS_SERVER));

  for (const refusal of REFUSALS) {
    it(`commits the job to the store, the primary key deciding, when Redis is ${refusal.name}`, () =>
      withWorkerDeps(async (deps, admin) => {
        const earlier = [makeEvent(), makeEvent()];
        await processBatch(deps, 'job-1', job(earlier));

        await refusal.refuse(admin);
        // New pairs, one twice, and both pairs of job-1 (claimed in Redis, stored by an applied job).
        const fresh = [makeEvent(), makeEvent(), makeEvent()];
        const second = job([...fresh, fresh[0] as Event, ...earlier]);
        // The claim fails soft; the counters publication after the commit cannot (it is a write the
        // job must retry), so the job fails after its commit, as a job does whose worker dies there.
        const failure = await processBatch(deps, 'job-2', second).then(
          () => undefined,
          (e: Error) => e.message,
        );
        expect(failure, 'the counters publication is refused').to.match(/^(OOM|READONLY) /);
        expect(await deps.store.readCounters()).to.include({ received: 8, unique_processed: 5, duplicate_dropped: 3 });

        // Once Redis takes writes again, the retried job changes nothing and publishes the counters.
        await refusal.allow(admin);
        const retried = await processBatch(deps, 'job-2', second);
        expect(retried).to.include({ firstApplication: false });
        expect(retried.counters).to.include({ received: 8, unique_processed: 5, duplicate_dropped: 3 });
        expect(await deps.store.countEvents()).to.equal(5);
        // A later job still gets the fast path's answers: job-1's claims are intact.
        expect(await deps.fastPath.claim(earlier, 'job-3')).to.deep.equal(['job-1', 'job-1']);
      }));
  }

  it('fails hard on any other error reply, so the job is retried rather than run without it', () =>
    withWorkerDeps(async (deps, admin) => {
      const event = makeEvent();
      await admin.lpush(keysFromConfig(loadConfig({ REDIS_PREFIX: 'refusal' })).queue(0).fastPath, 'not a claim');
      const failure = await processBatch(deps, 'job-1', job([event])).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(failure).to.match(/^WRONGTYPE /);
      expect(await deps.store.countEvents()).to.equal(0);
    }));
});
