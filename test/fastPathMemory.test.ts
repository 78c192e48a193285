import { randomUUID } from 'node:crypto';
import { createKeys, createRedis, quitRedis, type Redis, waitReady } from '@aggregator/common';
import { type RedisServer, startRedisServer } from '@aggregator/stack';
import {
  decodeJobId,
  encodeJobId,
  FAST_PATH_LAYOUT,
  FastPath,
  type FastPathGeometry,
  fastPathGeometry,
  partitionBudget,
} from '@aggregator/worker';
import { expect } from 'chai';
import { keysMemory, usedMemory } from './support/redisMemory.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';

/** A redis-server of the test's own (its memory is measured), and a connection to it. */
async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const server: RedisServer = await startRedisServer({ logLevel: 'warning' });
  const redis = createRedis(server.url, 'blocking', 'fast-path-test');
  try {
    await waitReady(redis, 5000);
    return await fn(redis);
  } finally {
    await quitRedis(redis);
    await server.stop();
  }
}

const pair = (i: number, tag = 'p') => ({ topic: `orders.${tag}`, event_id: `e-${i}` });
const pairs = (from: number, count: number, tag?: string) =>
  Array.from({ length: count }, (_, i) => pair(from + i, tag));

/** Claims `count` new pairs from `from`, in jobs of 1,000, as workers do. */
async function claimMany(fastPath: FastPath, from: number, count: number, tag?: string): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const holders = await fastPath.claim(pairs(from + i, Math.min(1000, count - i), tag), randomUUID());
    expect(holders?.every((h) => h === '')).to.equal(true);
  }
}

const keysOf = (prefix: string) => createKeys(prefix).queue(0);

describe('fast path claims (Lua script, real Redis)', () => {
  before(requireTool(REDIS_SERVER));

  it('claims a pair once: new pairs get "", later ones the first job, the same job its own id', () =>
    withRedis(async (redis) => {
      const fastPath = new FastPath(redis, keysOf('semantics'), fastPathGeometry(16 * 1024 ** 2, 3600));
      const first = randomUUID();
      expect(await fastPath.claim([pair(1), pair(2), pair(1)], first)).to.deep.equal(['', '', first]);
      expect(await fastPath.claim([pair(2), pair(3)], 'job-7')).to.deep.equal([first, '']);
      expect(await fastPath.claim([pair(3)], randomUUID())).to.deep.equal(['job-7']);
      // The same ids in another topic, and the same text split differently, are other pairs.
      expect(await fastPath.claim([pair(1, 'q'), { topic: 'orders.p', event_id: 'e-1x' }], 'job-8')).to.deep.equal([
        '',
        '',
      ]);
    }));

  it('stores job ids compactly and reads every kind back exactly', () => {
    const uuid = randomUUID();
    expect(encodeJobId(uuid)).to.have.length(17);
    for (const id of [uuid, '42', 'job-1', 'x'.repeat(16), 'é日本', '0123456789abcdef0123456789abcdef']) {
      expect(decodeJobId(encodeJobId(id))).to.equal(id);
    }
    expect(() => decodeJobId(Buffer.from('plain'))).to.throw(/not a fast-path claim/);
  });

  it('holds its memory within the budget however many pairs are claimed, keeping the newest', () =>
    withRedis(async (redis) => {
      const budget = 2 * 1024 ** 2;
      const geometry = fastPathGeometry(budget, 3600);
      const keys = keysOf('budget');
      const fastPath = new FastPath(redis, keys, geometry);
      const before = await usedMemory(redis);
      // Ten times what the budget holds.
      const total = 10 * geometry.generations * geometry.capacity;
      await claimMany(fastPath, 0, total);
      const { bytes, keys: count } = await keysMemory(redis, `${keys.fastPath}*`);
      expect(bytes, 'MEMORY USAGE of the fast-path keys').to.be.at.most(budget);
      expect((await usedMemory(redis)) - before, 'used_memory growth').to.be.at.most(budget * 1.1);
      // The generations looked in, the one being deleted, and the state hash.
      expect(count).to.be.at.most((geometry.generations + 1) * geometry.shards + 1);

      // The newest generations' pairs are still known; the oldest were forgotten, not wrongly kept.
      const kept = (geometry.generations - 1) * geometry.capacity;
      const recent = await fastPath.claim(pairs(total - kept, 1000), 'probe');
      expect(recent?.every((h) => h !== '')).to.equal(true);
      const oldest = await fastPath.claim(pairs(0, 1000), 'probe');
      expect(oldest?.every((h) => h === '')).to.equal(true);
    }));

  it('leaves at most one dropped generation behind, even when one job fills several generations', () =>
    withRedis(async (redis) => {
      // Tiny generations of many hashes: each job of 1,000 new pairs fills ten of them, and
      // deleting one takes more than one call's usual share of deletions.
      const geometry: FastPathGeometry = {
        budgetBytes: 0,
        capacity: 100,
        shards: 300,
        spanMs: 3_600_000,
        generations: 2,
      };
      const keys = keysOf('big-jobs');
      const fastPath = new FastPath(redis, keys, geometry);
      await claimMany(fastPath, 0, 20_000);
      // Each generation holds 100 claims, so 100 hashes at most: the ones looked in, one dropped.
      const { keys: count } = await keysMemory(redis, `${keys.fastPath}*`);
      expect(count).to.be.at.most((geometry.generations + 1) * geometry.capacity + 1);
    }));

  it('costs the same bytes per claim as budgeted, for the largest allowed pairs as for small ones', () =>
    withRedis(async (redis) => {
      const perClaim: Record<string, number> = {};
      const big = '𝄞'.repeat(255); // 255 characters of 4 UTF-8 bytes: the largest topic and id
      for (const [name, make] of [
        ['small', (i: number) => ({ topic: 't', event_id: String(i) })],
        ['largest', (i: number) => ({ topic: big, event_id: `${big.slice(0, -12)}${String(i).padStart(6, '0')}` })],
      ] as const) {
        const keys = keysOf(name);
        const geometry = fastPathGeometry(4 * 1024 ** 2, 3600);
        const fastPath = new FastPath(redis, keys, geometry);
        // Every generation looked in full: the most a budget can hold.
        const count = geometry.generations * geometry.capacity;
        const before = await usedMemory(redis);
        for (let i = 0; i < count; i += 1000) {
          const jobPairs = Array.from({ length: Math.min(1000, count - i) }, (_, j) => make(i + j));
          await fastPath.claim(jobPairs, randomUUID());
        }
        perClaim[name] = ((await usedMemory(redis)) - before) / count;
        const usage = await keysMemory(redis, `${keys.fastPath}*`);
        expect(usage.bytes / count, `${name}: MEMORY USAGE per claim`).to.be.at.most(FAST_PATH_LAYOUT.bytesPerClaim);
      }
      for (const [name, bytes] of Object.entries(perClaim)) {
        expect(bytes, `${name}: used_memory per claim`).to.be.at.most(FAST_PATH_LAYOUT.bytesPerClaim);
      }
    }));

  it('forgets a claim once its generations have passed, after DEDUP_TTL_SECONDS at most', () =>
    withRedis(async (redis) => {
      const geometry: FastPathGeometry = { ...fastPathGeometry(4 * 1024 ** 2, 2), spanMs: 400 };
      const fastPath = new FastPath(redis, keysOf('window'), geometry);
      const claimedAt = Date.now();
      await fastPath.claim([pair(1)], 'job-1');
      // Each look is a claim by a new job, as a replay is: it rotates generations as a busy worker
      // would, and it does not renew the claim.
      await waitUntil(async () => (await fastPath.claim([pair(1)], randomUUID()))?.[0] === '', {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: 'the claim to be forgotten',
      });
      const after = Date.now() - claimedAt;
      // Kept for at least (generations - 1) spans, dropped within generations spans (and a poll).
      expect(after).to.be.within(
        (geometry.generations - 1) * geometry.spanMs,
        (geometry.generations + 1) * geometry.spanMs,
      );
    }));
});

describe('fast-path budget', () => {
  const MiB = 1024 ** 2;

  it('takes a share of the smallest maxmemory among the masters, split over the partitions', () => {
    const masters = [{ max: 1024 * MiB }, { max: 512 * MiB }];
    expect(partitionBudget({ share: 0.25 }, masters, 4)).to.equal(32 * MiB);
    expect(partitionBudget({ bytes: 64 * MiB }, masters, 4)).to.equal(16 * MiB);
    // No maxmemory: a fixed budget, since Redis then grows until the host runs out.
    expect(partitionBudget({ share: 0.25 }, [{ max: 0 }], 1)).to.equal(FAST_PATH_LAYOUT.unlimitedRedisBudget);
  });

  it('sizes generations so that all of them and the one being deleted fit the budget', () => {
    for (const budget of [MiB, 64 * MiB, 1024 * MiB]) {
      const g = fastPathGeometry(budget, 86_400);
      expect((g.generations + 1) * g.capacity * FAST_PATH_LAYOUT.bytesPerClaim).to.be.at.most(budget);
      expect(g.capacity / g.shards).to.be.at.most(FAST_PATH_LAYOUT.claimsPerShard);
      expect(g.spanMs * g.generations).to.be.at.least(86_400_000);
    }
  });
});
