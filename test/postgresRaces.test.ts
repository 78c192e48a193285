import { type Event, loadConfig } from '@aggregator/common';
import { applyBatch, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { waitUntil } from './support/waitUntil.js';

const event = (topic: string, id: string): Event => ({
  topic,
  event_id: id,
  timestamp: '2025-01-31T12:00:00Z',
  source: 's',
  payload: {},
});

/**
 * Another writer's transaction, held open by the test: it runs `sql` and commits when told, so
 * that the store's writer meets its uncommitted rows (the race its plain INSERT loses).
 */
async function withOpenTransaction<T>(url: string, sql: string, fn: (commit: () => Promise<void>) => Promise<T>) {
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  try {
    await other.query('BEGIN');
    await other.query(sql);
    return await fn(async () => {
      await other.query('COMMIT');
    });
  } finally {
    await other.end();
  }
}

/** Waits until a session of the store's writer waits on a row lock (the other transaction's row). */
async function writerWaitsOnLock(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await waitUntil(async () => {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'aggregator' AND wait_event_type = 'Lock'`,
      );
      return rows[0].n > 0;
    });
  } finally {
    await admin.end();
  }
}

/**
 * A group is first written with a plain INSERT (no ON CONFLICT: a speculative insertion per row
 * costs PostgreSQL about 40 % more CPU). These are the races it can lose, and how it recovers.
 */
describe('PostgreSQL store: a writer that loses a race to another writer', function () {
  this.timeout(60_000);
  before(function () {
    requirePostgres(this);
  });

  it('counts a pair another writer committed meanwhile as a duplicate, once, and stores the rest', () =>
    withTestDatabase(async (url) => {
      const store = await openStoreWriter(loadConfig({ DATABASE_URL: url }));
      try {
        await applyBatch(store, 'j0', [event('a', '0')]);
        const other = `INSERT INTO events (topic, event_id, timestamp, source, payload, seq, processed_at)
          VALUES ('a', '1', 't', 's', '{}', nextval('events_seq'), 'p')`;
        const outcome = await withOpenTransaction(url, other, async (commit) => {
          const applying = applyBatch(store, 'j1', [event('a', '1'), event('a', '2')]);
          // The writer looked before the other committed: its insert waits for the other's row.
          await writerWaitsOnLock(url);
          await commit();
          return applying;
        });
        expect(outcome).to.include({ firstApplication: true, inserted: 1, duplicates: 1 });
        expect(outcome.counters).to.include({ received: 3, unique_processed: 2, duplicate_dropped: 1 });
        const { rows } = await pgQuery(url, "SELECT event_id FROM events WHERE topic = 'a' ORDER BY event_id");
        expect(rows.map((r) => r.event_id)).to.deep.equal(['0', '1', '2']);
      } finally {
        await store.close();
      }
    }));

  it('reports a job that another writer applied meanwhile as applied before, counting nothing', () =>
    withTestDatabase(async (url) => {
      const store = await openStoreWriter(loadConfig({ DATABASE_URL: url }));
      try {
        const other = `INSERT INTO applied_jobs (job_id, applied_at) VALUES ('j1', 1)`;
        const outcome = await withOpenTransaction(url, other, async (commit) => {
          const applying = applyBatch(store, 'j1', [event('b', '1')]);
          await writerWaitsOnLock(url);
          await commit();
          return applying;
        });
        // The other writer's transaction recorded j1 alone (no row): what counts is that j1's
        // effect is not applied twice, nor counted.
        expect(outcome).to.include({ firstApplication: false, inserted: 0, duplicates: 0 });
        expect(outcome.counters).to.include({ received: 0, unique_processed: 0 });
        expect(await store.countEvents()).to.equal(0);
      } finally {
        await store.close();
      }
    }));
});

async function pgQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
