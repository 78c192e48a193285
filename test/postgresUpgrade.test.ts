import { loadConfig } from '@aggregator/common';
import { openStoreWriter, POSTGRES_MIGRATIONS } from '@aggregator/store';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { withProcessStack } from './support/processStack.js';
import { openStream, type StreamedEvent } from './support/sseClient.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/**
 * Events in the store the previous release wrote: a million, written directly (generate_series),
 * about 25 s of the test's 40 on the 2-core development machine. The upgrade itself reads no row
 * but the last of two indexes, so its time does not grow with them (docs/postgres.md).
 */
const OLD_EVENTS = 1_000_000;
/** Where the readers that tailed the old release stand: this many events before its end. */
const BEHIND = 300;

async function runSql(url: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/**
 * A store exactly as the previous release (schema version 2) leaves it: its two migrations, its
 * counters row, and `events` rows with seq 1…n, as its one-lane writers numbered them.
 */
async function fillVersion2Store(url: string, events: number): Promise<void> {
  const [v1, v2] = POSTGRES_MIGRATIONS;
  await runSql(
    url,
    `
    CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
    ${v1}; ${v2};
    INSERT INTO schema_migrations (version) VALUES (1), (2);
    INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
    SELECT 'old.' || (g % 4), 'e' || g, '2025-01-01T00:00:00Z', 's', '{"n":' || g || '}', g, '2025-01-01T00:00:00Z'
    FROM generate_series(1, ${events}) AS g;
    INSERT INTO topics (topic, unique_count) SELECT topic, count(*) FROM events GROUP BY topic;
    INSERT INTO counters (id, received, unique_processed, duplicate_dropped, store_id, created_at)
    VALUES (1, ${events + 7}, ${events}, 7, 'old-store', 1);
    ANALYZE events;`,
  );
}

/** Every event of `GET /events?<filter>` after `after`, paged as a tailing client does. */
async function tail(apiUrl: string, after: number, filter = ''): Promise<StreamedEvent[]> {
  const seen: StreamedEvent[] = [];
  for (;;) {
    const query = new URLSearchParams(filter);
    query.set('after', String(seen.at(-1)?.seq ?? after));
    query.set('limit', '500');
    const page = (await (await fetch(`${apiUrl}/events?${query}`)).json()) as StreamedEvent[];
    seen.push(...page);
    if (page.length < 500) return seen;
  }
}

describe('PostgreSQL: upgrading a store written by an earlier release (schema 2 → the latest)', function () {
  this.timeout(300_000);
  before(function () {
    requirePostgres(this);
  });

  it('migrates in place in moments; old after= cursors and streams go on without a gap or a repeat', () =>
    withTestDatabase(async (url) => {
      await fillVersion2Store(url, OLD_EVENTS);
      const cursor = OLD_EVENTS - BEHIND;

      // The migration, as the first new worker runs it at start (timed; it holds events' lock).
      const started = performance.now();
      await (await openStoreWriter(loadConfig({ DATABASE_URL: url }))).close();
      const migrationMs = Math.round(performance.now() - started);
      const version = await runSql(url, 'SELECT max(version) AS v FROM schema_migrations');
      expect(version.rows[0]?.v).to.equal(POSTGRES_MIGRATIONS.length);
      process.stdout.write(`      (migration of ${OLD_EVENTS} events: ${migrationMs} ms, open included)\n`);

      await withProcessStack({ workers: 4, env: { DATABASE_URL: url } }, async (stack) => {
        // Readers that stood `BEHIND` events before the old release's end: a stream and a pager,
        // both from their old integer cursor, and a stream of one topic.
        const all = await openStream(stack.apiUrl, `?after=${cursor}`);
        const one = await openStream(stack.apiUrl, `?topic=old.1&after=${cursor}`);
        const fresh = Array.from({ length: 40 }, (_, b) =>
          Array.from({ length: 25 }, (_, i) => makeEvent({ topic: `old.${(b + i) % 4}` })),
        );
        const statuses = await Promise.all(fresh.map(async (batch) => (await stack.publish(batch)).status));
        expect(new Set(statuses)).to.deep.equal(new Set([200]));
        const newEvents = fresh.flat().length;
        const stats = await waitUntil(async () => {
          const s = await stack.stats();
          return s.unique_processed === OLD_EVENTS + newEvents && s.queue.waiting + s.queue.active === 0 && s;
        });
        // The old counters carry on exactly.
        expect(stats).to.include({ received: OLD_EVENTS + 7 + newEvents, duplicate_dropped: 7 });

        const paged = await waitUntil(async () => {
          const rows = await tail(stack.apiUrl, cursor);
          return rows.length === BEHIND + newEvents && rows;
        });
        const seqs = paged.map((e) => e.seq);
        // The old events the readers had not reached yet, then every new one: once each, in order.
        expect(seqs.slice(0, BEHIND)).to.deep.equal(Array.from({ length: BEHIND }, (_, i) => cursor + 1 + i));
        expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).to.equal(true);
        expect(new Set(paged.map((e) => `${e.topic}/${e.event_id}`)).size).to.equal(paged.length);
        // New events number on from the old ones.
        expect(seqs[BEHIND]).to.be.greaterThan(OLD_EVENTS);

        await all.waitForEvents(paged.length);
        expect(all.events).to.deep.equal(paged);
        const ofOne = paged.filter((e) => e.topic === 'old.1');
        await one.waitForEvents(ofOne.length);
        expect(one.events).to.deep.equal(ofOne);
        await Promise.all([all.close(), one.close()]);
      });
    }));
});
