import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

for (const store of STORES) {
  describe(`restarts and outages (processes, ${store.name})`, function () {
    this.timeout(90_000);
    before(function () {
      store.require(this);
    });

    it('keeps events, dedup and counters across a restart of API, worker and a Redis that lost all its data', () =>
      withProcessStackOn(store, {}, async (stack) => {
        const events = Array.from({ length: 50 }, () => makeEvent());
        const first = await stack.publish([...events, ...events.slice(0, 10)]);
        expect(first.status).to.equal(200);
        const before = await stack.settle(60);
        expect(before).to.include({ unique_processed: 50, duplicate_dropped: 10 });

        // Stop everything; the new Redis has no persistence, so it starts empty.
        await Promise.all([...stack.apis, ...stack.workers].map((c) => c.stop()));
        await stack.restartRedis();
        expect(await stack.redis.child.process.pid).to.be.a('number');
        await stack.startWorker();
        await stack.startApi();

        const rebuilt = await stack.stats();
        expect(rebuilt).to.include({ received: 60, unique_processed: 50, duplicate_dropped: 10 });
        expect(rebuilt.uptime_seconds).to.be.at.least(before.uptime_seconds);

        // Every old event is still known (the store decides; Redis has no fast-path keys any more).
        const fresh = Array.from({ length: 5 }, () => makeEvent());
        expect((await stack.publish([...events, ...fresh])).status).to.equal(200);
        const after = await stack.settle(115);
        expect(after).to.include({ unique_processed: 55, duplicate_dropped: 60 });
        const listed = (await (await fetch(`${stack.apiUrl}/events?limit=1000`)).json()) as unknown[];
        expect(listed).to.have.length(55);
      }));

    it('answers 503 with Retry-After within a second while Redis is down, and recovers without restarts', () =>
      withProcessStackOn(store, {}, async (stack) => {
        expect((await stack.publish(makeEvent())).status).to.equal(200);
        await stack.settle(1);
        await stack.redis.kill();

        const started = Date.now();
        const down = await stack.publish(makeEvent());
        const elapsed = Date.now() - started;
        expect(down.status).to.equal(503);
        expect(down.headers.get('retry-after')).to.match(/^\d+$/);
        expect(((await down.json()) as { error: { code: string } }).error.code).to.equal('redis_unavailable');
        expect(elapsed).to.be.below(1500);
        const ready = await fetch(`${stack.apiUrl}/readyz`);
        expect(ready.status).to.equal(503);
        expect(((await ready.json()) as { error: { details: unknown } }).error.details).to.deep.equal({
          redis: 'down',
          store: 'up',
        });
        expect((await fetch(`${stack.apiUrl}/healthz`)).status).to.equal(200);

        await stack.restartRedis();
        await waitUntil(async () => (await stack.publish(makeEvent())).status === 200, {
          what: 'publish to work again',
        });
        const stats = await waitUntil(
          async () => {
            const s = await stack.stats();
            return s.unique_processed >= 2 && s.queue.waiting === 0 && s;
          },
          { what: 'the worker to resume' },
        );
        expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
        expect(stack.apis.every((a) => a.running) && stack.workers.every((w) => w.running)).to.equal(true);
      }));
  });
}

// These do not depend on the store: they run once, on the default (SQLite).
describe('restarts and outages (processes)', function () {
  this.timeout(90_000);
  before(requireTool(REDIS_SERVER));

  it('warns loudly at start-up when Redis may evict queued jobs', () =>
    withProcessStack({ workers: 0, apis: 0 }, async (stack) => {
      const { Redis } = await import('ioredis');
      const admin = new Redis(stack.redis.url);
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      admin.disconnect();
      const warning = /"level":40.*maxmemory-policy is \\"allkeys-lru\\", not \\"noeviction\\"/;
      await Promise.all([
        stack.startWorker().then((worker) => worker.waitFor(warning)),
        stack.startApi().then((api) => api.waitFor(warning)),
      ]);
    }));

  it('counts live workers and drops one that stops', () =>
    withProcessStack({ workers: 2 }, async (stack) => {
      await waitUntil(async () => (await stack.stats()).workers === 2, { what: '2 live workers' });
      await stack.workers[0]?.stop();
      await waitUntil(async () => (await stack.stats()).workers === 1, { what: '1 live worker' });
    }));

  it('exits non-zero with a readable message on a bad configuration', async () => {
    const { startApi } = await import('@aggregator/stack');
    try {
      await startApi({ name: 'bad-api', env: { PORT: 'eighty' } });
      expect.fail('the API started with PORT=eighty');
    } catch (e) {
      expect((e as Error).message)
        .to.match(/exited \(code 1[,)]/)
        .and.match(/PORT/);
    }
  });
});
