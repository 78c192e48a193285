import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { API_NODE_FLAGS } from '@aggregator/api';
import type { Event } from '@aggregator/common';
import { EventSource, planEvents } from '@aggregator/load';
import { freePort, type ManagedChild, startLocalStack } from '@aggregator/stack';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { pairKey, produce } from './support/producer.js';
import { requireTool } from './support/requireTool.js';
import { openStream } from './support/sseClient.js';
import { expectExactlyStored as expectExact } from './support/storedPairs.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withTempDir } from './support/withStack.js';

/** Three API replicas, each on its own port, and three workers sharing one store. */
const CLUSTER = { workers: 3, apis: 3, distinctApiPorts: true } as const;

function publishStatus(stack: ProcessStack, events: Event | Event[], url: string): Promise<number | string> {
  return stack.publish(events, url).then(
    (res) => res.status,
    (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.name,
  );
}

function failedForGood(workers: ManagedChild[]): string[] {
  return workers.flatMap((w) => w.lines.filter((l) => l.includes('job failed for good')));
}

for (const store of STORES) {
  describe(`cluster: API replicas and workers sharing one store (processes, ${store.name})`, function () {
    this.timeout(60_000);
    before(function () {
      store.require(this);
    });

    it('stores an event published concurrently through every replica exactly once', () =>
      withProcessStackOn(store, CLUSTER, async (stack) => {
        // 30 requests of one event at once, spread over the replicas: several jobs race in several workers.
        const same = makeEvent();
        // Overlapping batches at the same moment, each with a duplicate inside it too.
        const pool = Array.from({ length: 40 }, () => makeEvent());
        const batches = [
          [...pool.slice(0, 20), pool[5] as Event],
          [...pool.slice(10, 30), pool[15] as Event],
          [...pool.slice(20, 40), pool[0] as Event, pool[25] as Event],
        ];
        const statuses = await Promise.all([
          ...Array.from({ length: 30 }, (_, i) => publishStatus(stack, same, stack.apiUrls[i % 3] as string)),
          ...batches.map((b, i) => publishStatus(stack, b, stack.apiUrls[i] as string)),
        ]);
        expect(new Set(statuses)).to.deep.equal(new Set([200]));
        const received = 30 + batches.reduce((n, b) => n + b.length, 0);
        await expectExact(stack, new Set([same, ...pool].map(pairKey)), received);
      }));

    it('answers /stats the same from every replica', () =>
      withProcessStackOn(store, CLUSTER, async (stack) => {
        const events = Array.from({ length: 30 }, (_, i) => makeEvent({ topic: `t-${i % 3}` }));
        for (const [i, url] of stack.apiUrls.entries()) {
          expect(
            (await stack.publish([...events.slice(i * 10, i * 10 + 10), events[0] as Event], url)).status,
          ).to.equal(200);
        }
        await stack.settle(33);
        await waitUntil(async () => (await stack.stats()).workers === 3, { what: '3 live workers' });
        const all = await Promise.all(stack.apiUrls.map((url) => stack.stats(url)));
        const [first, ...others] = all.map(({ uptime_seconds, ...rest }) => rest);
        expect(first).to.deep.include({
          received: 33,
          unique_processed: 30,
          duplicate_dropped: 3,
          topics: ['t-0', 't-1', 't-2'],
          workers: 3,
          queue: { waiting: 0, active: 0, delayed: 0, failed: 0 },
        });
        for (const other of others) expect(other).to.deep.equal(first);
        // Uptime counts from the store's creation, not the replica's start: at most a tick apart.
        const uptimes = all.map((s) => s.uptime_seconds);
        expect(Math.max(...uptimes) - Math.min(...uptimes)).to.be.at.most(1);
      }));

    it('keeps serving and processing after one API replica and one worker are killed', () =>
      withProcessStackOn(store, CLUSTER, async (stack) => {
        const before = Array.from({ length: 20 }, () => makeEvent());
        expect((await stack.publish(before, stack.apiUrls[0])).status).to.equal(200);
        await stack.settle(20);

        await stack.apis[0]?.kill();
        await stack.workers[0]?.kill();
        const after = Array.from({ length: 40 }, () => makeEvent());
        const statuses = await Promise.all([
          publishStatus(stack, after.slice(0, 20), stack.apiUrls[0] as string),
          publishStatus(stack, [...after.slice(0, 20), ...before.slice(0, 5)], stack.apiUrls[1] as string),
          publishStatus(stack, after.slice(20), stack.apiUrls[2] as string),
        ]);
        expect(statuses).to.deep.equal(['ECONNREFUSED', 200, 200]);
        await expectExact(stack, new Set([...before, ...after].map(pairKey)), 20 + 25 + 20);
        expect(stack.workers.filter((w) => w.running)).to.have.length(2);
        expect(failedForGood(stack.workers)).to.deep.equal([]);
      }));

    it('puts a worker started under load to work', () =>
      withProcessStackOn(store, CLUSTER, async (stack) => {
        const plan = planEvents({
          runId: `grow-${randomUUID().slice(0, 8)}`,
          events: 1_000_000,
          dup: 0.2,
          batch: 100,
          topics: 3,
        });
        const stop = new AbortController();
        const load = produce({
          urls: stack.apiUrls,
          source: new EventSource(plan),
          concurrency: 3,
          eventsPerSecond: 3000,
          stop: stop.signal,
        });
        try {
          await waitUntil(async () => (await stack.stats()).received > 0, { what: 'the load to flow' });
          const added = await stack.startWorker({ LOG_LEVEL: 'debug' });
          await added.waitFor(/"job done"/);
        } finally {
          stop.abort();
        }
        const report = await load;
        expect(report.retries).to.equal(0);
        await expectExact(stack, report.ackedPairs, report.ackedEvents);
      }));

    it('lets three workers write the one store under load without a lock error, a failed or a lost event', () =>
      withProcessStackOn(store, { ...CLUSTER, workers: 0 }, async (stack) => {
        for (let i = 0; i < 3; i++) await stack.startWorker({ LOG_LEVEL: 'debug' });
        const plan = planEvents({
          runId: `busy-${randomUUID().slice(0, 8)}`,
          events: 30_000,
          dup: 0.2,
          batch: 100,
          topics: 3,
        });
        const report = await produce({ urls: stack.apiUrls, source: new EventSource(plan), concurrency: 6 });
        expect(report).to.include({ ackedEvents: 30_000, retries: 0 });
        expect(report.ackedPairs.size).to.equal(24_000);
        await expectExact(stack, report.ackedPairs, 30_000);

        for (const worker of stack.workers) {
          // The whole log is still in memory, so the checks below saw every line.
          expect(worker.lines.length).to.be.below(2000);
          expect(
            worker.lines.some((l) => l.includes('"job done"')),
            `${worker.name} took no job`,
          ).to.equal(true);
        }
        const logs = stack.workers.flatMap((w) => w.lines);
        // Writers take turns on SQLite's write lock, or race in parallel on PostgreSQL, without it ever
        // surfacing as an error: busy, deadlock, serialization failure.
        expect(logs.filter((l) => /SQLITE_BUSY|database is locked|"code":"40(?:001|P01)"/i.test(l))).to.deep.equal([]);
        expect(failedForGood(stack.workers)).to.deep.equal([]);
      }));
  });
}

// The local launcher's cluster mode, on its default store (SQLite).
describe('cluster: the local launcher (processes)', function () {
  this.timeout(60_000);
  before(requireTool(REDIS_SERVER));

  it('runs three API replicas on one port in cluster mode (npm start -- --api 3 --workers 3)', () =>
    withTempDir(async (dataDir) => {
      const local = await startLocalStack({
        apis: 3,
        workers: 3,
        port: await freePort(),
        dataDir,
        env: { LOG_LEVEL: 'info' },
      });
      try {
        await waitUntil(() => local.api.lines.filter((l) => l.includes('"api listening"')).length === 3, {
          what: '3 API replicas listening',
        });
        // Streams on separate connections, which the primary hands out to the replicas in turn:
        // each replica's hub hears the workers' announcements.
        const streams = await Promise.all(Array.from({ length: 3 }, () => openStream(local.url)));
        const events = Array.from({ length: 50 }, () => makeEvent());
        const statuses = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            fetch(`${local.url}/publish`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify([...events.slice(i * 10, i * 10 + 10), events[0]]),
            }).then((res) => res.status),
          ),
        );
        expect(statuses).to.deep.equal([200, 200, 200, 200, 200]);
        const stats = await waitUntil(
          async () => {
            const s = (await (await fetch(`${local.url}/stats`)).json()) as { received: number; workers: number };
            return s.received === 55 && s.workers === 3 && s;
          },
          { what: 'received == 55 with 3 live workers' },
        );
        expect(stats).to.include({ received: 55, unique_processed: 50, duplicate_dropped: 5, workers: 3 });
        for (const stream of streams) {
          await stream.waitForEvents(50);
          expect(stream.events.map((e) => e.seq)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
          await stream.close();
        }
        // The replicas run with the API's V8 flags, which the primary passes on when it forks them.
        const replicas = readFileSync(`/proc/${local.api.pid}/task/${local.api.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/);
        expect(replicas).to.have.length(3);
        for (const pid of replicas) {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          expect(argv, `replica ${pid}`).to.include.members([...API_NODE_FLAGS]);
        }
      } finally {
        await local.stop();
      }
    }));
});
