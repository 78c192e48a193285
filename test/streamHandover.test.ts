import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { lazyStoreReader, OpenStreams, type StoreProvider, StreamHub, streamRoute } from '@aggregator/api';
import { createLogger, createMetrics, type Event, loadConfig } from '@aggregator/common';
import { applyBatch, type EventStoreWriter, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import Koa from 'koa';
import { openStream, type SseClient } from './support/sseClient.js';
import { waitUntil } from './support/waitUntil.js';
import { withTempDir } from './support/withStack.js';

/**
 * A store whose answers arrive up to `ms` after the query ran, each after its own delay, as over a
 * network: a stream's last page can then be older than what the hub has read meanwhile, the race
 * the hand-over must survive.
 */
function slowAnswers(store: StoreProvider, ms: number): StoreProvider {
  return {
    description: store.description,
    close: () => store.close(),
    async read(fn) {
      const result = await store.read(fn);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ms));
      return result;
    },
  };
}

const event = (n: number): Event =>
  ({
    topic: `t.${n % 3}`,
    event_id: `e-${n}`,
    timestamp: '2025-01-31T12:00:00Z',
    source: 's',
    payload: { n },
  }) as Event;

interface StreamServer {
  url: string;
  writer: EventStoreWriter;
  hub: StreamHub;
  streams: OpenStreams;
  /** Connections the server holds. */
  connections(): Promise<number>;
  /** Store reads begun so far. */
  reads(): number;
}

/** The stream route alone on a port, over a real SQLite store whose reads answer up to `slowMs` late. */
function withStreamServer<T>(
  options: { slowMs: number; pollMs: number; gate?: Promise<void> },
  fn: (server: StreamServer) => Promise<T>,
): Promise<T> {
  return withTempDir(async (dir) => {
    const config = loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite'), LOG_LEVEL: 'silent' });
    const writer = await openStoreWriter(config);
    const reader = lazyStoreReader(config);
    const logger = createLogger({ level: 'silent', service: 'api', replica: 'test' });
    const metrics = createMetrics('api');
    let reads = 0;
    const slow = slowAnswers(reader, options.slowMs);
    // Every read first waits for the gate, when there is one.
    const store: StoreProvider = {
      ...slow,
      async read(fn) {
        reads++;
        await options.gate;
        return slow.read(fn);
      },
    };
    const hub = new StreamHub(store, options.pollMs, logger);
    const streams = new OpenStreams(100, metrics);
    const server = new Koa().use(streamRoute({ config, store, hub, streams, metrics, logger })).listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      return await fn({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        writer,
        hub,
        streams,
        connections: () =>
          new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
        reads: () => reads,
      });
    } finally {
      await streams.close();
      hub.close();
      server.close();
      await reader.close();
      await writer.close();
    }
  });
}

describe('event stream hand-over from the store to the hub (in process, SQLite)', function () {
  this.timeout(60_000);

  it('forgets a client that leaves while its stream waits on the store to open', () => {
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    return withStreamServer(
      { slowMs: 0, pollMs: 60_000, gate },
      async ({ url, writer, hub, streams, connections, reads }) => {
        // The first client's request waits on the hub's first read of the store; it leaves meanwhile.
        const leaving = new AbortController();
        const gone = fetch(`${url}/events/stream`, { signal: leaving.signal }).catch(() => undefined);
        await waitUntil(() => reads() >= 1, { what: 'the hub to read the store' });
        leaving.abort();
        await gone;
        await waitUntil(async () => (await connections()) === 0, { what: 'the server to see the client go' });
        openGate();

        // A client that stays is the only stream: the one that left was never opened, so it holds no
        // slot, is not live on the hub, and does not hold shutdown up.
        const staying = await openStream(url, '?after=0');
        await applyBatch(writer, 'j1', [event(1)]);
        hub.notify();
        await staying.waitForEvents(1);
        expect(streams.size).to.equal(1);
        expect(hub.liveCount).to.equal(1);
        await staying.close();
        await waitUntil(() => streams.size === 0 && hub.liveCount === 0, { what: 'the stream to close' });
      },
    );
  });

  it('gives streams that open while events are being stored every event once, in order', () =>
    withStreamServer({ slowMs: 30, pollMs: 1000 }, async ({ url, writer, hub }) => {
      const clients: Array<{ client: SseClient; topic?: string; after: number }> = [];
      try {
        // A writer that commits a small group every few ms and announces it, as a worker does.
        let n = 0;
        const total = 1500;
        const writing = (async () => {
          while (n < total) {
            const group = Array.from({ length: 5 }, () => event(++n));
            const outcome = await applyBatch(writer, `job-${n}`, group);
            hub.notify(outcome.counters.unique_processed);
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
        })();
        // Streams open all along the way, some from the start, some from a recent seq.
        while (n < total - 200) {
          // Every topic, one topic, or a pattern (`*.1` matches the topic `t.1` only).
          const filter = ['', 'topic=t.1', 'topic_pattern=*.1'][clients.length % 3] as string;
          const after = clients.length % 4 === 3 ? Math.max(0, n - 100) : 0;
          const query = new URLSearchParams(filter);
          query.set('after', String(after));
          clients.push({ client: await openStream(url, `?${query}`), topic: filter ? 't.1' : undefined, after });
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await writing;
        expect(clients.length).to.be.greaterThan(10);
        const stored = await writer.listEventsAsJson({ after: 0, limit: total + 1 });
        for (const { client, topic, after } of clients) {
          const expected = stored
            .map(([, json]) => JSON.parse(json) as { topic: string; seq: number })
            .filter((e) => e.seq > after && (topic === undefined || e.topic === topic));
          await client.waitForEvents(expected.length, 5000);
          expect(client.events.map((e) => e.seq)).to.deep.equal(expected.map((e) => e.seq));
        }
      } finally {
        await Promise.all(clients.map(({ client }) => client.close()));
      }
    }));

  it('delivers through the poll when no commit is announced, and after the hub slept without streams', () =>
    withStreamServer({ slowMs: 0, pollMs: 100 }, async ({ url, writer }) => {
      // Nothing calls hub.notify here: only the poll can deliver.
      const first = await openStream(url);
      await applyBatch(writer, 'job-1', [event(1), event(2)]);
      await first.waitForEvents(2, 5000);
      await first.close();
      // No stream open: the hub sleeps and forgets its cursor; events stored meanwhile are
      // caught up from the store by the next stream, and new ones reach it through the poll.
      await applyBatch(writer, 'job-2', [event(3)]);
      const second = await openStream(url, '?after=2');
      await applyBatch(writer, 'job-3', [event(4)]);
      await second.waitForEvents(2, 5000);
      expect(second.events.map((e) => e.seq)).to.deep.equal([3, 4]);
      await second.close();
    }));
});
