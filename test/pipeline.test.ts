import { STATS_TOPICS, type Stats } from '@aggregator/api';
import { type Event, publishCounters, readMirroredCounters } from '@aggregator/common';
import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { deleteStoredEvent, STORES, withStackOn } from './support/stores.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { type InProcessStack, makeEvent, withStack } from './support/withStack.js';

function expectInvariants(stats: Stats): void {
  expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
}

async function waitForFailed(stats: () => Promise<Stats>): Promise<number> {
  return waitUntil(async () => (await stats()).queue.failed || false, { what: 'a failed job' });
}

for (const store of STORES) {
  describe(`dedup and counters (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    it('drops a duplicate inside one batch', () =>
      withStackOn(store, {}, async (stack) => {
        const e = makeEvent();
        await stack.publish([e, makeEvent(), e]);
        const stats = await stack.settle(3);
        expect(stats).to.include({ unique_processed: 2, duplicate_dropped: 1 });
      }));

    it('drops a duplicate that arrives in another batch, even with a different body', () =>
      withStackOn(store, {}, async (stack) => {
        const e = makeEvent();
        await stack.publish(e);
        await stack.settle(1);
        await stack.publish({ ...e, source: 'other', payload: { changed: true } });
        const stats = await stack.settle(2);
        expect(stats).to.include({ unique_processed: 1, duplicate_dropped: 1 });
        const events = (await stack.request({ method: 'GET', url: '/events' })).json();
        expect(events).to.have.length(1);
        expect(events[0]).to.include({ source: 'test' });
      }));

    it(`stores an event once when 40 concurrent requests on ${store.writers} workers carry it`, () =>
      withStackOn(store, { workers: store.writers }, async (stack) => {
        const e = makeEvent();
        const replies = await Promise.all(Array.from({ length: 40 }, () => stack.publish([e, makeEvent()])));
        expect(replies.every((r) => r.statusCode === 200)).to.equal(true);
        const stats = await stack.settle(80);
        expect(stats).to.include({ unique_processed: 41, duplicate_dropped: 39 });
      }));

    it('keeps the same event_id under two topics as two events', () =>
      withStackOn(store, {}, async (stack) => {
        await stack.publish([makeEvent({ topic: 'a', event_id: 'x' }), makeEvent({ topic: 'b', event_id: 'x' })]);
        const stats = await stack.settle(2);
        expect(stats).to.include({ unique_processed: 2, duplicate_dropped: 0 });
        expect(stats.topics).to.deep.equal(['a', 'b']);
      }));

    it('counts exactly in a stress run of 5,000 events with 20% duplicates', () =>
      withStackOn(store, { workers: store.writers }, async (stack) => {
        const unique: Event[] = Array.from({ length: 4000 }, (_, i) => makeEvent({ topic: `t${i % 7}` }));
        const duplicates = Array.from({ length: 1000 }, (_, i) => unique[(i * 37) % unique.length] as Event);
        const all = [...unique, ...duplicates].sort(() => Math.random() - 0.5);
        const batches: Event[][] = [];
        for (let i = 0; i < all.length; ) {
          const size = 1 + Math.floor(Math.random() * 150);
          batches.push(all.slice(i, i + size));
          i += size;
        }
        for (let i = 0; i < batches.length; i += 8) {
          const replies = await Promise.all(batches.slice(i, i + 8).map((b) => stack.publish(b)));
          expect(replies.map((r) => r.statusCode)).to.satisfy((codes: number[]) => codes.every((c) => c === 200));
        }
        const stats = await stack.settle(5000);
        expect(stats).to.include({ received: 5000, unique_processed: 4000, duplicate_dropped: 1000 });
        expectInvariants(stats);
        // Every row is readable, each once. On PostgreSQL a row becomes readable when the visible
        // head passes it, up to a few hundred ms after its commit (docs/postgres.md): read again
        // until all are there, and never more.
        await waitUntil(
          async () => {
            let rows = 0;
            let next: string | undefined = '/events?limit=1000';
            while (next) {
              const res = await stack.request({ method: 'GET', url: next });
              rows += res.json().length;
              next = /<([^>]+)>; rel="next"/.exec(String(res.headers.link ?? ''))?.[1];
            }
            expect(rows).to.be.at.most(4000);
            return rows === 4000;
          },
          { what: 'all 4,000 rows readable', timeoutMs: 10_000 },
        );
      }));
  });

  describe(`fast path (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    it('claims each pair once with the id of its job, and skips a later copy once that job is applied', () =>
      withStackOn(store, {}, async (stack) => {
        const e = makeEvent();
        await stack.publish(e);
        await stack.settle(1);
        const fastPath = stack.fastPathOf(e.topic);
        const [holder] = (await fastPath.claim([e], 'a-later-job')) as string[];
        expect(holder).to.be.a('string').and.not.equal('');
        await stack.publish(e);
        expect(await stack.settle(2)).to.include({ unique_processed: 1, duplicate_dropped: 1 });
        // The copy did not rewrite the claim.
        expect(await fastPath.claim([e], 'a-later-job')).to.deep.equal([holder]);
      }));

    it('drops a later copy on the claim alone, without the store looking for the row', () =>
      withStackOn(store, {}, async (stack) => {
        const e = makeEvent();
        await stack.publish(e);
        await stack.settle(1);
        // Remove the stored row behind the service's back: only the fast path can still drop the copy.
        await deleteStoredEvent(stack.config, e.topic, e.event_id);
        await stack.publish(e);
        expect(await stack.settle(2)).to.include({ unique_processed: 1, duplicate_dropped: 1 });
        expect((await stack.request({ method: 'GET', url: '/events' })).json()).to.deep.equal([]);
      }));

    it('never skips an event for a claim by a job the store has not applied', () =>
      withStackOn(store, {}, async (stack) => {
        // A job that died before its commit, or one applied in a store since restored from a backup.
        const e = makeEvent();
        expect(await stack.fastPathOf(e.topic).claim([e], 'job-that-never-committed')).to.deep.equal(['']);
        await stack.publish([e, makeEvent()]);
        expect(await stack.settle(2)).to.include({ unique_processed: 2, duplicate_dropped: 0 });
        const events = (await stack.request({ method: 'GET', url: '/events' })).json() as Event[];
        expect(events.map((row) => row.event_id)).to.include(e.event_id);
      }));
  });

  describe(`GET /stats (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    it('reports counters, sorted topics, uptime, queue and live workers', () =>
      withStackOn(store, { workers: 2 }, async (stack) => {
        await stack.publish([makeEvent({ topic: 'zeta' }), makeEvent({ topic: 'alpha' })]);
        const stats = await stack.settle(2);
        expect(stats).to.have.all.keys(
          'received',
          'unique_processed',
          'duplicate_dropped',
          'topic_count',
          'topics',
          'uptime_seconds',
          'queue',
          'partitions',
          'workers',
        );
        expect(stats.topics).to.deep.equal(['alpha', 'zeta']);
        expect(stats.topic_count).to.equal(2);
        expect(stats.uptime_seconds).to.be.a('number').at.least(0);
        expect(stats.queue).to.deep.equal({ waiting: 0, active: 0, delayed: 0, failed: 0 });
        expect(stats.partitions).to.deep.equal([{ partition: 0, waiting: 0, active: 0, delayed: 0, failed: 0 }]);
        expectInvariants(stats);
      }));

    it('stays small with 20,000 topics: their count, the first 100 names, the rest paged by /topics', function () {
      this.timeout(120_000);
      return withStackOn(store, {}, async (stack) => {
        const topics = Array.from({ length: 20_000 }, (_, i) => `topic-${String(i).padStart(5, '0')}`);
        for (let i = 0; i < topics.length; i += 10_000) {
          const res = await stack.publish(topics.slice(i, i + 10_000).map((topic) => makeEvent({ topic })));
          expect(res.statusCode).to.equal(200);
        }
        await stack.settle(topics.length);
        const res = await stack.request({ method: 'GET', url: '/stats' });
        // Every topic made it 5 MB (and sorted them on each request, polled every 2 s).
        expect(res.rawPayload.length, 'bytes of /stats').to.be.below(4096);
        const stats = res.json() as Stats;
        expect(stats.topic_count).to.equal(20_000);
        expect(stats.topics).to.deep.equal(topics.slice(0, STATS_TOPICS));
        const page = await stack.request({ method: 'GET', url: `/topics?after=${stats.topics.at(-1)}&limit=2` });
        expect(page.json().map((t: { topic: string }) => t.topic)).to.deep.equal(topics.slice(100, 102));
      });
    });

    it('rebuilds the counters from the store when Redis lost them', () =>
      withStackOn(store, {}, async (stack) => {
        const e = makeEvent();
        await stack.publish([e, e, makeEvent({ topic: 'other' })]);
        const before = await stack.settle(3);
        await stack.redis.del(stack.keys.stats, stack.keys.topics);
        const after = await stack.stats();
        expect(after).to.deep.include({
          received: 3,
          unique_processed: 2,
          duplicate_dropped: 1,
          topics: before.topics,
        });
        expect(after.uptime_seconds).to.be.at.least(before.uptime_seconds);
      }));

    it('keeps a job whose data is invalid as failed, visible in /stats', () =>
      withStackOn(store, {}, async (stack) => {
        await stack.queue.add('batch', { events: [{ nope: true }] } as never, { attempts: 3 });
        const failed = await waitForFailed(stack.stats);
        expect(failed).to.equal(1);
      }));

    it('refuses, unretried and storing nothing, a job whose event has the shape but fails the event schema', () =>
      withStackOn(store, {}, async (stack) => {
        // What a cross-site "add job" on the queue UI once got stored: the worker checked the shape only.
        const bad = { ...makeEvent(), event_id: '', timestamp: 'bogus' };
        const job = await stack.queue.add(
          'batch',
          { events: [makeEvent(), bad], acceptedAt: Date.now() },
          { attempts: 3 },
        );
        expect(await waitForFailed(stack.stats)).to.equal(1);
        const failed = await stack.queue.getJob(job.id as string);
        expect(failed?.attemptsMade, 'not retried').to.equal(1);
        expect(failed?.failedReason).to.match(/event 1 event_id: must not be empty/);
        const stats = await stack.stats();
        expect(stats).to.include({ received: 0, unique_processed: 0 });
        expect((await stack.request({ method: 'GET', url: '/events' })).json()).to.deep.equal([]);
      }));
  });

  describe(`GET /events (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    it('lists unique events in seq order, filtered by topic, with Link pagination', () =>
      withStackOn(store, {}, async (stack) => {
        const events = Array.from({ length: 7 }, (_, i) => makeEvent({ topic: i % 2 ? 'odd' : 'even' }));
        await stack.publish(events);
        await stack.settle(7);
        const all = (await stack.request({ method: 'GET', url: '/events' })).json();
        expect(all.map((e: Event) => e.event_id)).to.deep.equal(events.map((e) => e.event_id));
        expect(all[0]).to.have.all.keys('topic', 'event_id', 'timestamp', 'source', 'payload', 'seq', 'processed_at');
        const seqs = all.map((e: { seq: number }) => e.seq);
        expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));

        const pages: string[][] = [];
        let next: string | undefined = '/events?topic=even&limit=2';
        while (next) {
          const res = await stack.request({ method: 'GET', url: next });
          pages.push(res.json().map((e: Event) => e.event_id));
          next = /<([^>]+)>; rel="next"/.exec(String(res.headers.link ?? ''))?.[1];
        }
        const even = events.filter((e) => e.topic === 'even').map((e) => e.event_id);
        expect(pages).to.deep.equal([even.slice(0, 2), even.slice(2, 4)]);
      }));

    it('returns payloads exactly as stored', () =>
      withStackOn(store, {}, async (stack) => {
        const payload = JSON.parse('{"__proto__":{"a":1},"big":1e308,"neg":-0.5,"nested":{"list":[true,null,"ü"]}}');
        await stack.publish(makeEvent({ payload }));
        await stack.settle(1);
        const [stored] = (await stack.request({ method: 'GET', url: '/events' })).json();
        expect(JSON.stringify(stored.payload)).to.equal(JSON.stringify(payload));
      }));

    it('answers 400 for invalid parameters', () =>
      withStackOn(store, {}, async (stack) => {
        for (const q of [
          'limit=0',
          'limit=1001',
          'limit=x',
          'after=-1',
          'after=1.5',
          'topic=',
          'topic=a&topic=b',
          'limit=1&limit=2',
        ]) {
          const res = await stack.request({ method: 'GET', url: `/events?${q}` });
          expect(res.statusCode, q).to.equal(400);
          expect(res.json().error.code).to.equal('invalid_query');
        }
      }));
  });

  describe(`topic patterns (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    const topics = [
      'eu.orders.error',
      'eu.billing.error',
      'eu.orders.created',
      'us.orders.error',
      'eu.*.error',
      'eü.x',
    ];
    const get = (stack: InProcessStack, url: string) => stack.request({ method: 'GET', url });
    /** Follows `Link: rel="next"` from `url`, returning each page's body. */
    const follow = async (stack: InProcessStack, url: string) => {
      const pages: unknown[][] = [];
      let next: string | undefined = url;
      while (next) {
        const res = await get(stack, next);
        expect(res.statusCode, next).to.equal(200);
        pages.push(res.json());
        next = /<([^>]+)>; rel="next"/.exec(String(res.headers.link ?? ''))?.[1];
      }
      return pages;
    };

    it('lists the events of the topics a topic_pattern matches, the Link keeping the pattern', () =>
      withStackOn(store, {}, async (stack) => {
        const events = [0, 1].flatMap(() => topics.map((topic) => makeEvent({ topic })));
        await stack.publish(events);
        await stack.settle(events.length);
        const first = await get(stack, `/events?topic_pattern=${encodeURIComponent('eu.*.error')}&limit=3`);
        expect(first.headers.link).to.match(/^<\/events\?topic_pattern=eu\.\*\.error&after=\d+&limit=3>; rel="next"$/);
        const pages = await follow(stack, '/events?topic_pattern=eu.*.error&limit=3');
        const matched = events.filter((e) => ['eu.orders.error', 'eu.billing.error', 'eu.*.error'].includes(e.topic));
        expect(pages.map((p) => p.length)).to.deep.equal([3, 3]);
        expect(pages.flat().map((e) => (e as Event).event_id)).to.deep.equal(matched.map((e) => e.event_id));
        const all = await follow(stack, '/events?topic_pattern=%3E&limit=1000');
        expect(all.flat()).to.have.length(events.length);
        const exact = await get(stack, '/events?topic_pattern=e%C3%BC.x');
        expect(exact.json()).to.deep.equal((await get(stack, '/events?topic=e%C3%BC.x')).json());
      }));

    it('answers 400 saying what is wrong with a pattern, or with a topic and a pattern at once', () =>
      withStackOn(store, {}, async (stack) => {
        const cases: [string, RegExp][] = [
          ['topic_pattern=eu..error', /^invalid query parameter topic_pattern: segment 2 of "eu\.\.error" is empty/],
          ['topic_pattern=eu.%3E.error', /topic_pattern: ">" may only be the last segment/],
          ['topic_pattern=a.b*', /topic_pattern: segment "b\*" mixes a wildcard with other characters/],
          ['topic_pattern=', /topic_pattern: /],
          ['topic=eu&topic_pattern=eu.%3E', /topic_pattern: cannot be given with "topic"/],
        ];
        for (const [q, message] of cases) {
          for (const path of q.startsWith('topic=') ? ['/events'] : ['/events', '/topics']) {
            const res = await get(stack, `${path}?${q}`);
            expect(res.statusCode, q).to.equal(400);
            expect(res.json().error.code, q).to.equal('invalid_query');
            expect(res.json().error.message, q).to.match(message);
          }
        }
      }));

    it('GET /topics lists topics by name with counts and last seqs equal to /events, paged', () =>
      withStackOn(store, {}, async (stack) => {
        const events = [...topics, 'eu.orders.error', 'eu.orders.error', 'us.orders.error'].map((topic) =>
          makeEvent({ topic }),
        );
        await stack.publish([...events, events[0] as Event]);
        await stack.settle(events.length + 1);
        const pages = await follow(stack, '/topics?limit=4');
        expect(pages.map((p) => p.length)).to.deep.equal([4, 2]);
        const listed = pages.flat() as { topic: string; events: number; last_seq: number }[];
        expect(listed.map((t) => t.topic)).to.deep.equal(
          [...new Set(topics)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
        for (const t of listed) {
          const ofTopic = (await get(stack, `/events?topic=${encodeURIComponent(t.topic)}&limit=1000`)).json();
          expect(t).to.deep.equal({ topic: t.topic, events: ofTopic.length, last_seq: ofTopic.at(-1).seq });
        }
        expect(listed.find((t) => t.topic === 'eu.orders.error')?.events).to.equal(3);
        const first = await get(stack, '/topics?topic_pattern=*.orders.%3E&limit=2');
        expect(first.headers.link).to.equal(
          '</topics?topic_pattern=*.orders.%3E&after=eu.orders.error&limit=2>; rel="next"',
        );
        const ofOrders = (await follow(stack, '/topics?topic_pattern=*.orders.%3E&limit=2')).flat();
        expect(ofOrders.map((t) => (t as { topic: string }).topic)).to.deep.equal([
          'eu.orders.created',
          'eu.orders.error',
          'us.orders.error',
        ]);
      }));
  });

  describe(`health (${store.name})`, () => {
    before(function () {
      store.require(this);
    });

    it('answers /healthz and /readyz', () =>
      withStackOn(store, {}, async (stack) => {
        expect((await stack.request({ method: 'GET', url: '/healthz' })).statusCode).to.equal(200);
        const ready = await stack.request({ method: 'GET', url: '/readyz' });
        expect(ready.json()).to.deep.equal({ status: 'ready', checks: { redis: 'up', store: 'up' } });
      }));
  });
}

describe('counters mirror', () => {
  before(requireTool(REDIS_SERVER));
  it('publishes the counters and more topics than one script call takes, in one pipeline', () =>
    withStack({ workers: 0 }, async (stack) => {
      const topics = Array.from({ length: 2500 }, (_, i) => `topic-${i}`);
      const counters = { received: 5, unique_processed: 4, duplicate_dropped: 1, created_at: 1, store_id: 's' };
      await publishCounters(stack.redis, stack.keys, counters, topics);
      expect(await stack.redis.scard(stack.keys.topics)).to.equal(2500);
      expect(await readMirroredCounters(stack.redis, stack.keys)).to.deep.equal({
        received: 5,
        unique_processed: 4,
        duplicate_dropped: 1,
        created_at: 1,
      });
    }));
});
