import { type Event, loadConfig, parseTopicPattern } from '@aggregator/common';
import { applyBatch, type EventStoreReader, openStoreReader, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { waitUntil } from './support/waitUntil.js';

/** What PostgreSQL's statistics say was done to `events`, once every session's figures are in. */
async function eventsTableStats(
  url: string,
): Promise<{ seqTupRead: number; inserted: number; indexScans: number; indexTupRead: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(
      `SELECT seq_tup_read, n_tup_ins, coalesce(idx_scan, 0) AS idx_scan,
        (SELECT sum(idx_tup_read) FROM pg_stat_user_indexes WHERE relname = 'events') AS idx_tup_read
       FROM pg_stat_user_tables WHERE relname = 'events'`,
    );
    const row = rows[0] ?? {};
    return {
      seqTupRead: Number(row.seq_tup_read),
      inserted: Number(row.n_tup_ins),
      indexScans: Number(row.idx_scan),
      indexTupRead: Number(row.idx_tup_read),
    };
  } finally {
    await client.end();
  }
}

/** Runs `sql` on its own connection: rows written directly, bypassing the store. */
async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates the store at `url` and writes `stored` events into it directly (event g has seq g and
 * the topic `topicSql` computes from g), with their topics, counters, sequence and visible head to
 * match; resolves with the
 * table's statistics once they count those rows.
 */
async function fillStore(url: string, stored: number, topicSql: string) {
  await (await openStoreWriter(loadConfig({ DATABASE_URL: url }))).close();
  await runSql(
    url,
    `
      INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
      SELECT ${topicSql}, 'e' || g, '2025-01-01T00:00:00Z', 's', '{}', g, '2025-01-01T00:00:00Z'
      FROM generate_series(1, ${stored}) AS g;
      INSERT INTO topics (topic, unique_count) SELECT topic, count(*) FROM events GROUP BY topic;
      UPDATE counters_base SET received = ${stored}, unique_processed = ${stored};
      UPDATE visible_head SET head = ${stored};
      SELECT setval('events_seq', ${stored});
      ANALYZE events; ANALYZE topics;`,
  );
  return waitUntil(async () => {
    const s = await eventsTableStats(url);
    return s.inserted >= stored && s;
  });
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
      // 50,000 stored events (topics t0..t7), written directly, with counters to match.
      const stored = 50_000;
      const before = await fillStore(url, stored, "'t' || (g % 8)");

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

  /**
   * A store of 100,000 events over 500 topics `r0.s0` … `r99.s4`, 200 each: `r<a>.s<b>` holds the
   * events g with g % 100 = a and (g / 100) % 5 = b. Runs `fn` on the figures of `events` before and
   * after the pages it reads (which must use `scans` index scans at least).
   */
  const readPages = (scans: number, pages: (reader: EventStoreReader) => Promise<void>) =>
    withTestDatabase(async (url) => {
      const config = loadConfig({ DATABASE_URL: url });
      const before = await fillStore(url, 100_000, "'r' || (g % 100) || '.s' || (g / 100 % 5)");
      const reader = await openStoreReader(config);
      try {
        await pages(reader);
      } finally {
        // Its sessions end here, which is when they report their figures.
        await reader.close();
      }
      const after = await waitUntil(async () => {
        const s = await eventsTableStats(url);
        return s.indexScans >= before.indexScans + scans && s;
      });
      return {
        indexTupRead: after.indexTupRead - before.indexTupRead,
        seqTupRead: after.seqTupRead - before.seqTupRead,
      };
    });

  it('serves a pattern page by merging the index ranges of its topics, reading about limit + topics rows', async () => {
    const read = await readPages(5, async (reader) => {
      const rows = await reader.listEvents({ topicPattern: parseTopicPattern('r7.*'), after: 50_000, limit: 100 });
      // The next 100 events of the five topics after 50,000: g % 100 = 7.
      expect(rows.map((r) => r.seq)).to.deep.equal(Array.from({ length: 100 }, (_, i) => 50_007 + 100 * i));
    });
    // One index scan per topic, each stopped by the merge: about 100 + 5 entries read, where
    // reading the topics' ranges from after= whole would be 500 and the seq index 10,000.
    expect(read.indexTupRead).to.be.within(100, 200);
    expect(read.seqTupRead).to.equal(0);
  });

  it('serves a pattern matching more topics than it merges from the seq index, reading up to the page', async () => {
    const read = await readPages(1, async (reader) => {
      // 100 topics (`*.s1`): events 100–199 of every 500.
      const rows = await reader.listEvents({ topicPattern: parseTopicPattern('*.s1'), after: 50_000, limit: 100 });
      expect(rows.map((r) => r.seq)).to.deep.equal(Array.from({ length: 100 }, (_, i) => 50_100 + i));
    });
    // The seq index from 50,001 to 50,199; reading those topics' ranges would be 10,000 rows.
    expect(read.indexTupRead).to.be.within(199, 400);
    expect(read.seqTupRead).to.equal(0);
  });
});
