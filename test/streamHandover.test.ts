import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { lazyStoreReader, OpenStreams, type StoreProvider, StreamHub, streamRoute } from '@aggregator/api';
import { createLogger, createMetrics, type Event, loadConfig } from '@aggregator/common';
import { applyBatch, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import Koa from 'koa';
import { openStream, type SseClient } from './support/sseClient.js';
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

describe('event stream hand-over from the store to the hub (in process, SQLite)', function () {
  this.timeout(60_000);

  it('gives streams that open while events are being stored every event once, in order', () =>
    withTempDir(async (dir) => {
      const config = loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite'), LOG_LEVEL: 'silent' });
      const writer = await openStoreWriter(config);
      const reader = lazyStoreReader(config);
      const logger = createLogger({ level: 'silent', service: 'api', replica: 'test' });
      const metrics = createMetrics('api');
      const store = slowAnswers(reader, 30);
      const hub = new StreamHub(store, 1000, logger);
      const streams = new OpenStreams(100, metrics);
      const app = new Koa().use(streamRoute({ config, store, hub, streams, metrics, logger }));
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
        // Streams open all along the way, some from the start, some from an old or a future seq.
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
        await streams.close();
        hub.close();
        server.close();
        await reader.close();
        await writer.close();
      }
    }));
});
