import {
  ApiError,
  Client,
  type EventOutcome,
  eventId,
  type PublishEvent,
  PublisherClosedError,
  type RetryNotice,
} from '@aggregator/client';
import { freePort } from '@aggregator/stack';
import { expect } from 'chai';
import { fetchThrough } from './support/clientFetch.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { withStack } from './support/withStack.js';

function makeEvents(count: number): PublishEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    topic: `pub.t${i % 2}`,
    event_id: eventId(),
    timestamp: new Date().toISOString(),
    source: 'publisher-test',
    payload: { i },
  }));
}

describe('client Publisher against the API', function () {
  this.timeout(30_000);
  before(requireTool(REDIS_SERVER));

  it('splits a batch the API refuses as too large (413) until every event is accepted', () =>
    withStack({ env: { MAX_BATCH: '10' } }, async (stack) => {
      const client = new Client({ url: 'http://in-process', fetch: fetchThrough(stack) });
      const retries: RetryNotice[] = [];
      const publisher = client.publisher({ maxBatchEvents: 25, onRetry: (n) => retries.push(n) });
      const delivery = await publisher.publish(makeEvents(60));
      await publisher.close();
      expect((await delivery.outcomes).map((o) => o.status)).to.deep.equal(new Array(60).fill('accepted'));
      // A 413 is no retry of the same request: the halves are new requests.
      expect(retries).to.deep.equal([]);
      expect(await stack.settle(60)).to.include({ unique_processed: 60 });
    }));

  it('waits out 429 queue_full no sooner than Retry-After, then delivers', () =>
    withStack({ workers: 0, env: { MAX_QUEUE_DEPTH: '5' } }, async (stack) => {
      const client = new Client({ url: 'http://in-process', fetch: fetchThrough(stack) });
      // The API samples the queue's depth every 250 ms: publish until it refuses.
      let accepted = 0;
      await waitUntil(
        async () => {
          const res = await stack.publish(makeEvents(10));
          if (res.statusCode === 200) accepted += 10;
          return res.statusCode === 429;
        },
        { what: 'the API to refuse with 429' },
      );
      const retries: RetryNotice[] = [];
      const publisher = client.publisher({ onRetry: (n) => retries.push(n) });
      const delivery = await publisher.publish(makeEvents(20));
      await waitUntil(() => retries.some((n) => n.outcome.reason === '429'), { what: 'a 429 retried' });
      for (const notice of retries) {
        expect(notice.outcome.retryAfterMs, 'Retry-After read').to.be.a('number').above(0);
        expect(notice.delayMs).to.be.at.least(notice.outcome.retryAfterMs ?? 0);
        // Refused before enqueueing: a re-send adds no duplicate.
        expect(notice.outcome.uncertain).to.equal(false);
      }
      await stack.startWorker();
      await publisher.close();
      expect((await delivery.outcomes).every((o) => o.status === 'accepted')).to.equal(true);
      expect(await stack.settle(accepted + 20)).to.include({ unique_processed: accepted + 20, duplicate_dropped: 0 });
    }));

  it('never retries a 4xx other than 408 and 429: a 401 is rejected at once, per event', () =>
    withStack({ env: { API_TOKEN: 'publish-token-0123456789' } }, async (stack) => {
      const client = new Client({ url: 'http://in-process', fetch: fetchThrough(stack) });
      const refused = await client.publish(makeEvents(1)).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(ApiError);
      expect(refused).to.include({ status: 401, code: 'unauthorized' });
      const retries: RetryNotice[] = [];
      const publisher = client.publisher({ onRetry: (n) => retries.push(n) });
      const delivery = await publisher.publish(makeEvents(3));
      await publisher.close();
      const outcomes = await delivery.outcomes;
      expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
      expect(retries).to.deep.equal([]);
      const authorised = new Client({
        url: 'http://in-process',
        token: 'publish-token-0123456789',
        fetch: fetchThrough(stack),
      });
      expect(await authorised.publish(makeEvents(2))).to.include({ accepted: 2, attempts: 1 });
    }));

  it('batches by count, by bytes and by linger time', () =>
    withStack({}, async (stack) => {
      const bodies: string[] = [];
      const through = fetchThrough(stack);
      const client = new Client({
        url: 'http://in-process',
        // Sees every request the client sends.
        fetch: (input, init) => {
          if (typeof init?.body === 'string') bodies.push(init.body);
          return through(input, init);
        },
      });
      const sizes = () => bodies.splice(0).map((body) => (JSON.parse(body) as unknown[]).length);

      // Three single events within the linger time travel together.
      const byLinger = client.publisher({ lingerMs: 200, concurrency: 1 });
      const lingered = await Promise.all([0, 1, 2].map(() => byLinger.publish(makeEvents(1))));
      await Promise.all(lingered.map((d) => d.outcomes));
      expect(sizes()).to.deep.equal([3]);
      await byLinger.close();

      // 25 events, at most 10 a request.
      const byCount = client.publisher({ maxBatchEvents: 10, lingerMs: 60_000 });
      // The last 5 would wait out the linger; close() sends them.
      await byCount.publish(makeEvents(25));
      await byCount.close();
      expect(sizes().sort((a, b) => b - a)).to.deep.equal([10, 10, 5]);

      // At most 1,000 bytes of events a request (an event here is about 140).
      const byBytes = client.publisher({ maxBatchBytes: 1_000, lingerMs: 60_000 });
      await byBytes.publish(makeEvents(20));
      await byBytes.close();
      const requests = bodies.splice(0);
      expect(requests.length).to.be.at.least(3);
      for (const body of requests) expect(new TextEncoder().encode(body).length).to.be.at.most(1_000 + 2);
      expect(requests.flatMap((body) => JSON.parse(body) as unknown[])).to.have.length(20);
      expect(await stack.settle(48)).to.include({ unique_processed: 48 });
    }));

  it('flushes without waiting for the linger time; close() is idempotent and refuses later events', () =>
    withStack({}, async (stack) => {
      const client = new Client({ url: 'http://in-process', fetch: fetchThrough(stack) });
      const publisher = client.publisher({ lingerMs: 3_600_000, maxBatchEvents: 1000 });
      const delivery = await publisher.publish(makeEvents(3));
      // With the linger honoured, this would take an hour.
      await publisher.flush();
      expect((await delivery.outcomes).map((o) => o.status)).to.deep.equal(['accepted', 'accepted', 'accepted']);
      expect(publisher.close()).to.equal(publisher.close());
      await publisher.close();
      const late = await publisher.publish(makeEvents(1)).catch((e: unknown) => e);
      expect(late).to.be.instanceOf(PublisherClosedError);
    }));
});

describe('client Publisher without a service', () => {
  it('fails what it holds when its signal aborts, and refuses a call still waiting for room', async () => {
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens: every attempt is refused
    const abort = new AbortController();
    const outcomes: EventOutcome[] = [];
    const publisher = new Client({ url }).publisher({
      signal: abort.signal,
      maxBufferedBytes: 1024,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
      onOutcome: (o) => outcomes.push(o),
    });
    const first = await publisher.publish(makeEvents(5));
    // The buffer holds about 1 KiB: this call waits for room.
    const waiting = publisher.publish(makeEvents(20)).catch((e: unknown) => e);
    abort.abort(new Error('shutting down'));
    expect(await waiting).to.be.instanceOf(PublisherClosedError);
    const settled = await first.outcomes;
    expect(settled.map((o) => o.status)).to.deep.equal(new Array(5).fill('failed'));
    expect(outcomes).to.have.length(5);
    expect(String((settled[0] as { error: unknown }).error)).to.include('shutting down');
    await publisher.close();
  });

  it('makes time-ordered UUIDv7 event ids, unique even within a millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => eventId());
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal(ids);
    // The first 48 bits are the Unix time in ms.
    const ms = Number.parseInt((ids.at(-1) as string).replace('-', '').slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).to.be.below(5_000);
  });
});
