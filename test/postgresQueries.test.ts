import { type Event, loadConfig } from '@aggregator/common';
import { applyBatch, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { waitUntil } from './support/waitUntil.js';

/** What PostgreSQL's statistics say was done to `events`, once every session's figures are in. */
async function eventsTableStats(url: string): Promise<{ seqTupRead: number; inserted: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ seq_tup_read: string; n_tup_ins: string }>(
      "SELECT seq_tup_read, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'events'",
    );
    return { seqTupRead: Number(rows[0]?.seq_tup_read), inserted: Number(rows[0]?.n_tup_ins) };
  } finally {
    await client.end();
  }
}

/** The PostgreSQL adapter's statements stay bound to the rows they touch as the store grows. */
describe('PostgreSQL store: statements on a large table', function () {
  this.timeout(60_000);
  before(function () {
    requirePostgres(this);
  });

  it('finds which pairs of a group are stored by probing the primary key, not by reading the table', () =>
    withTestDatabase(async (url) => {
      const config = loadConfig({ DATABASE_URL: url });
      await (await openStoreWriter(config)).close();
      // 50,000 stored events (topics t0..t7), written directly, with counters to match.
      const stored = 50_000;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`
          INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
          SELECT 't' || (g % 8), 'e' || g, '2025-01-01T00:00:00Z', 's', '{}', g, '2025-01-01T00:00:00Z'
          FROM generate_series(1, ${stored}) AS g;
          UPDATE counters SET received = ${stored}, unique_processed = ${stored};
          ANALYZE events;`);
      } finally {
        await admin.end();
      }
      const before = await waitUntil(async () => {
        const s = await eventsTableStats(url);
        return s.inserted >= stored && s;
      });

      // A group of 2,000 events: every other one is already stored.
      const event = (n: number): Event => ({
        topic: `t${n % 8}`,
        event_id: `e${n}`,
        timestamp: '2025-01-01T00:00:00Z',
        source: 's',
        payload: {},
      });
      const group = Array.from({ length: 2000 }, (_, i) => event(i % 2 ? stored + i : i * 17 + 1));
      const store = await openStoreWriter(config);
      try {
        expect(await applyBatch(store, 'job-1', group)).to.include({ inserted: 1000, duplicates: 1000 });
      } finally {
        // The writer's sessions end here, which is when they report their figures.
        await store.close();
      }
      const after = await waitUntil(async () => {
        const s = await eventsTableStats(url);
        return s.inserted >= before.inserted + 1000 && s;
      });
      // Reading the table once would be 50,000 rows; the probes read none sequentially.
      expect(after.seqTupRead - before.seqTupRead).to.be.below(stored / 10);
    }));
});
