import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  Client,
  type EventOutcome,
  eventId,
  type PublishEvent,
  type StoredEvent,
  type StreamError,
} from '@aggregator/client';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { pairKey } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { waitUntil } from './support/waitUntil.js';

// A full collection before each heap reading, so that the readings compare live memory, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** `count` distinct events of one run, spread over three topics under `topicRoot`. */
function makeEvents(topicRoot: string, count: number, from = 0): PublishEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    topic: `${topicRoot}.t${(from + i) % 3}`,
    event_id: eventId(),
    timestamp: new Date().toISOString(),
    source: 'client-test',
    payload: { i: from + i },
  }));
}

/**
 * Waits until the service is at rest and checks the exactly-once effect: the store holds each of
 * `distinct` once and nothing else, and the counters agree (`received` may exceed what was sent by
 * the copies of re-sent requests, each counted as a duplicate).
 */
async function expectStoredOnce(stack: ProcessStack, distinct: ReadonlySet<string>, sent: number): Promise<void> {
  let previous = '';
  const stats = await waitUntil(
    async () => {
      const s = await stack.stats();
      const busy = s.queue.waiting + s.queue.active + s.queue.delayed;
      const key = `${s.received}/${s.unique_processed}`;
      const settled = busy === 0 && s.unique_processed === distinct.size && key === previous;
      previous = key;
      return settled && s;
    },
    { what: `${distinct.size} events stored and the queue idle`, timeoutMs: 60_000, intervalMs: 100 },
  );
  expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
  expect(stats.received).to.be.at.least(sent);
  expect(stats.queue.failed).to.equal(0);
  const stored = await listStoredPairs(stack.apiUrls[stack.apis.findIndex((a) => a.running)] as string);
  expect(new Set(stored).size, 'a pair stored twice').to.equal(stored.length);
  expect(stored).to.have.members([...distinct]);
}

/** Publishes `events` through `publisher` call by call (waiting for room each time), collecting the outcomes. */
/**
 * Publishes `events`, `perCall` at a time, through one Publisher. `gate(i)`, when given, may return
 * a promise to wait for before the events from index `i` are handed over: a test holds events back
 * until it has put the service in the state it wants them to meet.
 */
function producing(
  client: Client,
  events: PublishEvent[],
  perCall: number,
  gate: (index: number) => Promise<void> | undefined = () => undefined,
) {
  const outcomes: EventOutcome[] = [];
  const publisher = client.publisher({
    maxBatchEvents: 20,
    lingerMs: 2,
    retry: { baseDelayMs: 20, maxDelayMs: 300 },
    onOutcome: (o) => outcomes.push(o),
  });
  const done = (async () => {
    for (let i = 0; i < events.length; i += perCall) {
      await gate(i);
      await publisher.publish(events.slice(i, i + perCall));
    }
    await publisher.close();
  })();
  return { publisher, outcomes, done };
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

for (const store of STORES) {
  describe(`client against the service (${store.name})`, function () {
    this.timeout(180_000);
    before(function () {
      store.require(this);
    });

    it('publishes exactly once through API restarts and a Redis outage', () =>
      withProcessStackOn(store, { persistentRedis: true }, async (stack) => {
        const client = new Client({ url: stack.apiUrl, requestTimeoutMs: 2_000 });
        const unique = makeEvents('client.once', 3_000);
        // A share of copies, as an at-least-once producer upstream would send.
        const events = [...unique, ...unique.slice(0, 300)];
        // Two gates, so that each fault meets events in flight whatever the machine's speed: the
        // events from 1,000 wait for the API restart, those from 2,000 for Redis to be down.
        const afterApiRestart = deferred();
        const whileRedisDown = deferred();
        const run = producing(client, events, 10, (i) =>
          i === 1_000 ? afterApiRestart.promise : i === 2_000 ? whileRedisDown.promise : undefined,
        );
        const acceptedAtLeast = (n: number) => () => run.outcomes.filter((o) => o.status === 'accepted').length >= n;

        await waitUntil(acceptedAtLeast(300), { what: '300 events accepted', timeoutMs: 60_000 });
        await stack.restartApi(0);
        afterApiRestart.resolve();
        await waitUntil(acceptedAtLeast(2_000), {
          what: '2,000 events accepted after the API restart',
          timeoutMs: 60_000,
        });
        // SIGTERM: Redis writes its AOF, so every acknowledged job survives.
        await stack.redis.stop();
        whileRedisDown.resolve();
        const during = run.outcomes.length;
        await stack.restartRedis();
        await waitUntil(acceptedAtLeast(during + 500), {
          what: `500 more events after the Redis restart (${run.outcomes.length} outcomes)`,
          timeoutMs: 60_000,
        });
        await stack.restartApi(0);
        await run.done;

        expect(run.outcomes).to.have.length(events.length);
        expect(run.outcomes.filter((o) => o.status !== 'accepted')).to.deep.equal([]);
        await expectStoredOnce(stack, new Set(unique.map(pairKey)), events.length);
      }));

    it('resumes a subscriber through a replica kill, missing and repeating nothing', () =>
      withProcessStackOn(store, { apis: 2, distinctApiPorts: true }, async (stack) => {
        // A load balancer in the client's fetch: every request goes to the first replica still
        // running, so the stream starts on the first and resumes on the second once it is killed.
        const live = () => stack.apiUrls[stack.apis.findIndex((api) => api.running)] as string;
        const client = new Client({
          url: 'http://aggregator.test',
          requestTimeoutMs: 2_000,
          fetch: (input, init) => fetch(String(input).replace('http://aggregator.test', live()), init),
        });
        const received: StoredEvent[] = [];
        let reconnects = 0;
        const subscription = client.subscribe({
          topicPattern: 'client.sub.>',
          retry: { baseDelayMs: 20, maxDelayMs: 200 },
          onReconnect: () => {
            reconnects++;
          },
          onEvent: (event) => {
            received.push(event);
          },
        });
        try {
          const events = makeEvents('client.sub', 1_500);
          // Other topics' events interleave in seq order; the stream must skip them.
          const noise = makeEvents('client.other', 300);
          const run = producing(client, [...events.slice(0, 500), ...noise, ...events.slice(500)], 5);
          await waitUntil(() => received.length >= 200, { what: '200 events streamed' });
          await stack.apis[0]?.kill();
          await run.done;
          await waitUntil(() => received.length >= events.length, {
            what: `${events.length} events streamed`,
            timeoutMs: 60_000,
          });
          expect(reconnects).to.be.at.least(1);
          const seqs = received.map((e) => e.seq);
          expect(seqs, 'in seq order, once each').to.deep.equal([...new Set(seqs)].sort((a, b) => a - b));
          expect(received.map(pairKey)).to.have.members(events.map(pairKey));
          // And pages() reads the same events, in the same order.
          const paged: StoredEvent[] = [];
          for await (const page of client.pages({ topicPattern: 'client.sub.>', limit: 250 })) paged.push(...page);
          expect(paged.map((e) => e.seq)).to.deep.equal(seqs);
          expect(paged.map(pairKey)).to.deep.equal(received.map(pairKey));
        } finally {
          await subscription.close();
        }
      }));
  });
}

describe('client on one store (SQLite)', function () {
  this.timeout(120_000);
  const [sqlite] = STORES;
  before(function () {
    sqlite?.require(this);
  });

  it('holds memory flat while the service is down, then delivers everything once', () =>
    withProcessStackOn(STORES[0] as (typeof STORES)[number], {}, async (stack) => {
      await stack.apis[0]?.stop();
      const client = new Client({ url: stack.apiUrl, requestTimeoutMs: 1_000 });
      const maxBufferedBytes = 64 * 1024;
      const outcomes: EventOutcome[] = [];
      const publisher = client.publisher({
        maxBufferedBytes,
        retry: { baseDelayMs: 10, maxDelayMs: 50 },
        onOutcome: (o) => outcomes.push(o),
      });
      const total = 20_000;
      let taken = 0;
      let peakBuffered = 0;
      const producer = (async () => {
        for (let i = 0; i < total; i += 100) {
          await publisher.publish(makeEvents('client.bp', 100, i));
          taken += 100;
          peakBuffered = Math.max(peakBuffered, publisher.bufferedBytes);
        }
      })();
      // The producer fills the buffer, then waits: it is not let past the bound.
      await waitUntil(() => taken > 0 && publisher.bufferedBytes > maxBufferedBytes / 2, { what: 'a full buffer' });
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const takenBefore = taken;
      // Let it retry against the closed port for a while: hundreds of failed attempts.
      let polls = 0;
      await waitUntil(() => ++polls >= 80, { what: 'two seconds of retries', intervalMs: 25 });
      gc();
      const heapAfter = process.memoryUsage().heapUsed;
      expect(taken, 'the producer waits').to.equal(takenBefore);
      expect(taken).to.be.below(total);
      expect(outcomes, 'nothing dropped or failed').to.deep.equal([]);
      expect(peakBuffered).to.be.at.most(maxBufferedBytes);
      // Flat: the buffer is bounded at 64 KiB; allow for the retries' short-lived garbage.
      expect(heapAfter - heapBefore, 'heap growth while blocked').to.be.below(8 * 1024 * 1024);

      await stack.startApi();
      await producer;
      await publisher.close();
      expect(outcomes).to.have.length(total);
      expect(outcomes.every((o) => o.status === 'accepted')).to.equal(true);
      expect(peakBuffered).to.be.at.most(maxBufferedBytes);
      await expectStoredOnce(stack, new Set(outcomes.map((o) => pairKey(o.event))), total);
    }));

  it('hands a stream_fell_behind cut to the caller, who resumes and misses nothing', () =>
    withProcessStackOn(
      STORES[0] as (typeof STORES)[number],
      { env: { STREAM_BUFFER_BYTES: '65536' } },
      async (stack) => {
        const client = new Client({ url: stack.apiUrl });
        const received: StoredEvent[] = [];
        const errors: StreamError[] = [];
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const subscription = client.subscribe({
          topic: 'client.slow',
          // A consumer stuck on its first event reads nothing more: the server's buffer fills.
          onEvent: async (event) => {
            received.push(event);
            await gate;
          },
          onError: (error) => {
            errors.push(error);
            return 'resume';
          },
        });
        try {
          const payload = { blob: 'x'.repeat(100_000) };
          const published: PublishEvent[] = [];
          const cuts = async () => {
            const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
            const line = text.split('\n').find((l) => /^aggregator_streams_cut_total\{.*reason="fell_behind"/.test(l));
            return line ? Number(line.split(' ').at(-1)) : 0;
          };
          while ((await cuts()) === 0) {
            expect(published.length, 'events published before the cut').to.be.below(2000);
            const events = makeEvents('client.slow', 20).map((e) => ({ ...e, topic: 'client.slow', payload }));
            await client.publish(events);
            published.push(...events);
          }
          release();
          await waitUntil(() => received.length >= published.length, {
            what: `${published.length} events after the cut`,
            timeoutMs: 60_000,
          });
          expect(errors.map((e) => e.code)).to.deep.equal(['stream_fell_behind']);
          expect(errors[0]?.lastEventId).to.be.above(0);
          const seqs = received.map((e) => e.seq);
          expect(seqs, 'in seq order, once each').to.deep.equal([...new Set(seqs)].sort((a, b) => a - b));
          expect(received.map(pairKey)).to.have.members(published.map(pairKey));
        } finally {
          release();
          await subscription.close();
        }
      },
    ));
});
