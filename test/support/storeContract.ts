import { join } from 'node:path';
import { type Event, loadConfig, parseTopicPattern } from '@aggregator/common';
import {
  applyBatch,
  type EventStoreReader,
  type EventStoreWriter,
  isSchemaVersionError,
  type ListQuery,
  openStoreReader,
  openStoreWriter,
  type StoreConfig,
} from '@aggregator/store';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './postgres.js';
import { withTempDir } from './withStack.js';

/**
 * The definition of "a store": every adapter runs all of this suite (store/src/eventStore.ts).
 * Each test opens its own store: a temp SQLite file, or a fresh PostgreSQL database. Each adapter's
 * half is declared by a file of its own, so that SQLite's runs in the unit tier
 * (test/storeContract.sqlite.test.ts, no server needed) and PostgreSQL's in the full suite
 * (test/storeContract.postgres.test.ts).
 */
export interface StoreAdapter {
  name: string;
  /** Skips (or, in CI, fails) the suite when the adapter's server is missing. */
  require?(context: Mocha.Context): void;
  /** A configuration naming a store of its own, that no worker has created yet. */
  withConfig<T>(fn: (config: StoreConfig) => Promise<T>): Promise<T>;
  /** Marks the store as migrated by a newer build, at `version`. */
  setSchemaVersion(config: StoreConfig, version: number): Promise<void>;
  /** The schema version this build migrates the adapter's stores to. */
  schemaVersion: number;
  /**
   * Whether seqs are 1, 2, 3… with no gap even with writers racing. SQLite's one writer numbers
   * under its lock; PostgreSQL's parallel writers draw from a sequence, so a rolled-back group or
   * a pair two writers raced for leaves a gap (never a reuse, never an order readers can miss).
   */
  gaplessUnderRaces: boolean;
}

export const SQLITE_ADAPTER: StoreAdapter = {
  name: 'SQLite',
  schemaVersion: 1,
  gaplessUnderRaces: true,
  withConfig: (fn) => withTempDir((dir) => fn(loadConfig({ SQLITE_PATH: join(dir, 'nested', 'db.sqlite') }))),
  async setSchemaVersion(config, version) {
    const db = new Database(config.SQLITE_PATH);
    db.pragma(`user_version = ${version}`);
    db.close();
  },
};

export const POSTGRES_ADAPTER: StoreAdapter = {
  name: 'PostgreSQL',
  schemaVersion: 4,
  gaplessUnderRaces: false,
  require: requirePostgres,
  withConfig: (fn) => withTestDatabase((url) => fn(loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: '3' }))),
  async setSchemaVersion(config, version) {
    const client = new pg.Client({ connectionString: config.DATABASE_URL });
    await client.connect();
    await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]).finally(() => client.end());
  },
};

const event = (topic: string, id: string, payload: Event['payload'] = {}): Event => ({
  topic,
  event_id: id,
  timestamp: '2025-01-31T12:00:00Z',
  source: 's',
  payload,
});

/** Declares the whole contract for one adapter. */
export function describeStoreContract(adapter: StoreAdapter): void {
  describe(`store contract: ${adapter.name}`, function () {
    this.timeout(60_000);
    before(function () {
      adapter.require?.(this);
    });

    const withStore = (fn: (store: EventStoreWriter, config: StoreConfig) => Promise<void>) =>
      adapter.withConfig(async (config) => {
        const store = await openStoreWriter(config);
        try {
          await fn(store, config);
        } finally {
          await store.close();
        }
      });
    const ids = async (store: EventStoreWriter, query = { after: 0, limit: 100 }) =>
      (await store.listEvents(query)).map((r) => `${r.topic}${r.event_id}`);

    it('inserts new pairs, drops duplicates inside a batch and across batches, and counts exactly', () =>
      withStore(async (store) => {
        const first = await applyBatch(store, 'job-1', [event('a', '1'), event('a', '2'), event('a', '1')]);
        expect(first).to.include({ firstApplication: true, inserted: 2, duplicates: 1 });
        expect(first.topics).to.deep.equal(['a']);
        const second = await applyBatch(store, 'job-2', [event('a', '2'), event('b', '2')]);
        expect(second).to.include({ inserted: 1, duplicates: 1 });
        expect(second.counters).to.include({ received: 5, unique_processed: 3, duplicate_dropped: 2 });
        expect(await store.readCounters()).to.include({ received: 5, unique_processed: 3, duplicate_dropped: 2 });
        expect(await store.countEvents()).to.equal(3);
        expect(await store.listTopics()).to.deep.equal(['a', 'b']);
        expect(await store.countTopics()).to.equal(2);
      }));

    it('treats the same event_id under two topics as two events', () =>
      withStore(async (store) => {
        expect((await applyBatch(store, 'j', [event('a', 'x'), event('b', 'x')])).inserted).to.equal(2);
      }));

    it('applies a job once: a redelivered job changes nothing and reports the current counters', () =>
      withStore(async (store) => {
        await applyBatch(store, 'job-1', [event('a', '1')]);
        const again = await applyBatch(store, 'job-1', [event('a', '1'), event('a', '2')]);
        expect(again).to.include({ firstApplication: false, inserted: 0, duplicates: 0 });
        expect(again.counters).to.include({ received: 1, unique_processed: 1, duplicate_dropped: 0 });
        expect(await store.countEvents()).to.equal(1);
      }));

    it('applies a job listed twice in one group once', () =>
      withStore(async (store) => {
        const outcomes = await store.applyBatches([
          { jobId: 'a', events: [event('t', '1'), event('t', '2')] },
          { jobId: 'b', events: [event('t', '2'), event('t', '3')] },
          { jobId: 'a', events: [event('t', '1'), event('t', '2')] },
        ]);
        expect(outcomes.map((o) => [o.firstApplication, o.inserted, o.duplicates])).to.deep.equal([
          [true, 2, 0],
          [true, 1, 1],
          [false, 0, 0],
        ]);
        expect(outcomes[2]?.counters).to.include({ received: 4, unique_processed: 3, duplicate_dropped: 1 });
      }));

    it('commits all of a group or none of it', () =>
      withStore(async (store) => {
        await applyBatch(store, 'before', [event('a', '0')]);
        // JSON.stringify throws on a BigInt: the second job can never be stored.
        const poison = event('a', '2', { n: 10n } as unknown as Event['payload']);
        let failed = false;
        await store
          .applyBatches([
            { jobId: 'good', events: [event('a', '1')] },
            { jobId: 'poison', events: [poison] },
          ])
          .catch(() => {
            failed = true;
          });
        expect(failed).to.equal(true);
        expect(await store.readCounters()).to.include({ received: 1, unique_processed: 1 });
        expect(await ids(store)).to.deep.equal(['a0']);
        // Nothing of 'good' was recorded: applied again, it counts.
        expect((await applyBatch(store, 'good', [event('a', '1')])).firstApplication).to.equal(true);
      }));

    it('skips an event first claimed by another job that is applied here, counting it as a duplicate', () =>
      withStore(async (store) => {
        await applyBatch(store, 'j1', [event('a', '1')]);
        const outcome = await applyBatch(store, 'j2', [event('a', '1'), event('a', '2')], ['j1', '']);
        expect(outcome).to.include({ inserted: 1, duplicates: 1 });
        expect(await store.countEvents()).to.equal(2);
      }));

    it('does not even ask the primary key about an event vouched for by an applied job', () =>
      withStore(async (store) => {
        // 'j1' is applied but never stored ('a','1'): only the claim can make j2 drop it, so this
        // shows the skip itself (the cases above would pass on the primary key alone).
        await applyBatch(store, 'j1', [event('a', '0')]);
        const [alone] = await store.applyBatches([{ jobId: 'j2', events: [event('a', '1')], claimedBy: ['j1'] }]);
        expect(alone).to.include({ inserted: 0, duplicates: 1 });
        const [, grouped] = await store.applyBatches([
          { jobId: 'j3', events: [event('b', '0')], claimedBy: [''] },
          { jobId: 'j4', events: [event('b', '1')], claimedBy: ['j3'] },
        ]);
        expect(grouped).to.include({ inserted: 0, duplicates: 1 });
        expect(await ids(store)).to.deep.equal(['a0', 'b0']);
      }));

    it('lets the primary key decide events claimed by a job that is not applied here, or by itself', () =>
      withStore(async (store) => {
        // 'ghost' claimed the pairs and died before its commit (or was applied in another store).
        const outcome = await applyBatch(
          store,
          'j2',
          [event('a', '1'), event('a', '2'), event('a', '1')],
          ['ghost', '', 'j2'],
        );
        expect(outcome).to.include({ inserted: 2, duplicates: 1 });
        expect(await ids(store)).to.deep.equal(['a1', 'a2']);
      }));

    it('does not trust a claim by a job applied later in the same group', () =>
      withStore(async (store) => {
        const [first, second] = await store.applyBatches([
          { jobId: 'j1', events: [event('a', '1')], claimedBy: ['j2'] },
          { jobId: 'j2', events: [event('a', '1')], claimedBy: [''] },
        ]);
        expect(first).to.include({ inserted: 1, duplicates: 0 });
        expect(second).to.include({ inserted: 0, duplicates: 1 });
      }));

    it('trusts a claim by a job applied earlier in the same group commit', () =>
      withStore(async (store) => {
        const [first, second] = await store.applyBatches([
          { jobId: 'j1', events: [event('a', '1')], claimedBy: [''] },
          { jobId: 'j2', events: [event('a', '1'), event('a', '2')], claimedBy: ['j1', ''] },
        ]);
        expect(first).to.include({ inserted: 1, duplicates: 0 });
        expect(second).to.include({ inserted: 1, duplicates: 1 });
        expect(second?.counters).to.include({ received: 3, unique_processed: 2, duplicate_dropped: 1 });
      }));

    it('assigns seq 1, 2, 3… in processing order, never reused, and lists by topic and after', () =>
      withStore(async (store) => {
        await applyBatch(store, 'j1', [event('a', '1'), event('b', '1'), event('a', '2')]);
        await applyBatch(store, 'j2', [event('a', '1'), event('a', '3')]);
        const all = await store.listEvents({ after: 0, limit: 10 });
        expect(all.map((r) => r.seq)).to.deep.equal([1, 2, 3, 4]);
        expect(all.map((r) => `${r.topic}${r.event_id}`)).to.deep.equal(['a1', 'b1', 'a2', 'a3']);
        expect((await store.listEvents({ topic: 'a', after: 0, limit: 10 })).map((r) => r.event_id)).to.deep.equal([
          '1',
          '2',
          '3',
        ]);
        expect((await store.listEvents({ topic: 'a', after: 1, limit: 1 })).map((r) => r.seq)).to.deep.equal([3]);
        expect(all[0]).to.include({ timestamp: '2025-01-31T12:00:00Z', source: 's' });
        expect(Date.parse(all[0]?.processed_at ?? '')).to.be.closeTo(Date.now(), 60_000);
      }));

    it('stores payloads as JSON text, keys and numbers intact', () =>
      withStore(async (store) => {
        const payload = JSON.parse(
          '{"z":1,"a":2,"__proto__":{"x":1},"n":1.5e300,"i":-0.000123,"s":"\\u0000é😀","a2":[1,{"b":null}],"big":12345678901234567890}',
        );
        await applyBatch(store, 'j', [event('a', '1', payload)]);
        const [row] = await store.listEvents({ after: 0, limit: 1 });
        expect(JSON.parse(row?.payload ?? '')).to.deep.equal(payload);
        expect(row?.payload).to.equal(JSON.stringify(payload));
      }));

    it('lists events as JSON built by the database that equals the rows, whatever the strings hold', () =>
      withStore(async (store) => {
        const awkward = ['quote"d', 'back\\slash', 'é😀\u2028\u2029', 'e\u0301 \u202e', '</script>', '{"a":1}'];
        const payload = JSON.parse('{"__proto__":{"x":1},"n":1.5e300,"s":"\\u0000\\"","big":12345678901234567890}');
        await applyBatch(
          store,
          'j',
          awkward.map((s, i) => ({
            topic: s,
            event_id: `${s}-${i}`,
            timestamp: '2025-01-31T12:00:00+05:30',
            source: s,
            payload,
          })),
        );
        for (const query of [
          { after: 0, limit: 10 },
          { topic: awkward[1], after: 0, limit: 10 },
        ]) {
          const rows = await store.listEvents(query);
          const json = await store.listEventsAsJson(query);
          expect(json.map(([seq]) => seq)).to.deep.equal(rows.map((r) => r.seq));
          expect(json.map(([, text]) => JSON.parse(text))).to.deep.equal(
            rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) })),
          );
          // The payload is spliced in byte for byte, as it was stored.
          for (const [i, [, text]] of json.entries()) expect(text).to.include(`"payload":${rows[i]?.payload},`);
        }
      }));

    it('is shared by two writers and a reader opened on the same configuration', () =>
      withStore(async (store, config) => {
        const other = await openStoreWriter(config);
        const reader = await openStoreReader(config);
        try {
          await applyBatch(store, 'j1', [event('a', '1')]);
          await applyBatch(other, 'j2', [event('a', '1'), event('a', '2')]);
          expect(await applyBatch(other, 'j1', [event('a', '1')])).to.include({ firstApplication: false });
          expect(await reader.readCounters()).to.include({ received: 3, unique_processed: 2, duplicate_dropped: 1 });
          expect((await reader.readCounters()).store_id).to.equal((await store.readCounters()).store_id);
          expect(await reader.listTopics()).to.deep.equal(['a']);
        } finally {
          await other.close();
          await reader.close();
        }
      }));

    it('creates the store once when several writers start at once', () =>
      adapter.withConfig(async (config) => {
        const writers = await Promise.all(Array.from({ length: 4 }, () => openStoreWriter(config)));
        try {
          const storeIds = await Promise.all(writers.map(async (w) => (await w.readCounters()).store_id));
          expect(new Set(storeIds).size).to.equal(1);
          await Promise.all(writers.map((w, i) => applyBatch(w, `j${i}`, [event('a', String(i))])));
          expect(await writers[0]?.readCounters()).to.include({ received: 4, unique_processed: 4 });
        } finally {
          await Promise.all(writers.map((w) => w.close()));
        }
      }));

    it('refuses to open for reading a store that no worker has created', () =>
      adapter.withConfig(async (config) => {
        let error: unknown;
        await openStoreReader(config).catch((e: unknown) => {
          error = e;
        });
        expect(error).to.be.instanceOf(Error);
      }));

    it('refuses a schema newer than this build, naming both versions, to readers and writers', () =>
      adapter.withConfig(async (config) => {
        await (await openStoreWriter(config)).close();
        await adapter.setSchemaVersion(config, 99);
        for (const open of [openStoreReader, openStoreWriter]) {
          let error: unknown;
          await open(config).catch((e: unknown) => {
            error = e;
          });
          expect(isSchemaVersionError(error)).to.equal(true);
          expect((error as Error).message).to.match(new RegExp(`schema version 99\\b.*\\b${adapter.schemaVersion}\\b`));
        }
      }));

    it('prunes applied-job records older than the cutoff', () =>
      withStore(async (store) => {
        await applyBatch(store, 'old', [event('a', '1')]);
        expect(await store.pruneAppliedJobs(Date.now() + 1000)).to.equal(1);
        expect(await store.pruneAppliedJobs(Date.now() + 1000)).to.equal(0);
        // Forgotten: a redelivery would now count again (hence the long retention).
        expect((await applyBatch(store, 'old', [event('a', '1')])).firstApplication).to.equal(true);
      }));

    it('closes idempotently', () =>
      adapter.withConfig(async (config) => {
        const store = await openStoreWriter(config);
        await Promise.all([store.close(), store.close()]);
        await store.close();
      }));

    /** Topics of every kind a pattern meets: nested, unicode, and `*` or `>` inside a segment. */
    const patternTopics = [
      'eu.orders.error',
      'eu.orders.created',
      'eu.billing.error',
      'eu',
      'eu.orders.error.retry',
      'euro.orders.error',
      'us.orders.error',
      'eü.orders.error',
      'eu.*.error',
      'eu.>',
      'eu.ß😀.error',
      'eu/x',
    ];
    const withPatternTopics = (fn: (store: EventStoreWriter) => Promise<void>) =>
      withStore(async (store) => {
        // Two events per topic, interleaved: seq n*i+1 … in two rounds.
        await applyBatch(
          store,
          'j1',
          patternTopics.map((t) => event(t, '1')),
        );
        await applyBatch(
          store,
          'j2',
          patternTopics.map((t) => event(t, '2')),
        );
        await fn(store);
      });
    const listed = async (reader: EventStoreReader, pattern: string, after = 0, limit = 100) =>
      (await reader.listEvents({ topicPattern: parseTopicPattern(pattern), after, limit })).map(
        (r) => `${r.topic}#${r.event_id}`,
      );
    /** The events of `topics`, in the order withPatternTopics stored them. */
    const inSeqOrder = (...topics: string[]) =>
      ['1', '2'].flatMap((id) => patternTopics.filter((t) => topics.includes(t)).map((t) => `${t}#${id}`));

    it('lists the events of the topics a pattern matches, in seq order', () =>
      withPatternTopics(async (store) => {
        const table: [string, string[]][] = [
          ['eu.*.error', ['eu.orders.error', 'eu.billing.error', 'eu.*.error', 'eu.ß😀.error']],
          [
            'eu.>',
            [
              'eu.orders.error',
              'eu.orders.created',
              'eu.billing.error',
              'eu.orders.error.retry',
              'eu.*.error',
              'eu.>',
              'eu.ß😀.error',
            ],
          ],
          ['*.orders.error', ['eu.orders.error', 'euro.orders.error', 'us.orders.error', 'eü.orders.error']],
          ['eu.orders.>', ['eu.orders.error', 'eu.orders.created', 'eu.orders.error.retry']],
          ['*.*', ['eu.>']],
          ['*', ['eu', 'eu/x']],
          ['>', patternTopics],
          ['eu.orders.error', ['eu.orders.error']],
          ['eu.nothing.>', []],
          ['zz.*', []],
        ];
        for (const [pattern, topics] of table) {
          expect(await listed(store, pattern), pattern).to.deep.equal(inSeqOrder(...topics));
        }
      }));

    it('pages a pattern by after= and limit, as JSON too, equal to the rows', () =>
      withPatternTopics(async (store) => {
        const all = inSeqOrder('eu.orders.error', 'eu.orders.created', 'eu.orders.error.retry');
        const pages: string[] = [];
        let after = 0;
        for (;;) {
          const page = await store.listEvents({ topicPattern: parseTopicPattern('eu.orders.>'), after, limit: 2 });
          if (page.length === 0) break;
          expect(page.length).to.be.at.most(2);
          pages.push(...page.map((r) => `${r.topic}#${r.event_id}`));
          after = page.at(-1)?.seq ?? after;
        }
        expect(pages).to.deep.equal(all);
        const query = { topicPattern: parseTopicPattern('eu.*.error'), after: 3, limit: 4 };
        const rows = await store.listEvents(query);
        const json = await store.listEventsAsJson(query);
        expect(rows.length).to.equal(4);
        expect(json.map(([seq, text]) => [seq, JSON.parse(text)])).to.deep.equal(
          rows.map((r) => [r.seq, { ...r, payload: JSON.parse(r.payload) }]),
        );
      }));

    it('lists a pattern matching more topics than it merges one by one, by the seq index', () =>
      withStore(async (store) => {
        const many = Array.from({ length: 150 }, (_, i) => `m.${i}`);
        await applyBatch(store, 'j1', [...many.map((t) => event(t, '1')), event('n.0', '1'), event('m', '1')]);
        await applyBatch(store, 'j2', [event('n.0', '2'), ...many.map((t) => event(t, '2'))]);
        const pattern = parseTopicPattern('m.*');
        const rows = await store.listEvents({ topicPattern: pattern, after: 100, limit: 100 });
        expect(rows.map((r) => r.seq)).to.deep.equal([
          ...Array.from({ length: 50 }, (_, i) => 101 + i),
          ...Array.from({ length: 50 }, (_, i) => 154 + i),
        ]);
        const json = await store.listEventsAsJson({ topicPattern: pattern, after: 100, limit: 100 });
        expect(json.map(([seq]) => seq)).to.deep.equal(rows.map((r) => r.seq));
      }));

    it('merges the ranges of many topics that hold little of the store, in seq order', () =>
      withStore(async (store) => {
        // 100 topics of one event each beside a topic of 5,000: reading the seq index for them
        // would be most of the store; merging their ranges reads about a page.
        const sparse = Array.from({ length: 100 }, (_, i) => `s.${i}`);
        const big = Array.from({ length: 5000 }, (_, i) => event('big', String(i)));
        await applyBatch(store, 'j1', [...big.slice(0, 1500), ...sparse.slice(0, 50).map((t) => event(t, '1'))]);
        await applyBatch(store, 'j2', [...sparse.slice(50).map((t) => event(t, '1')), ...big.slice(1500)]);
        const pattern = parseTopicPattern('s.*');
        const rows = await store.listEvents({ topicPattern: pattern, after: 1520, limit: 40 });
        expect(rows.map((r) => r.seq)).to.deep.equal([
          ...Array.from({ length: 30 }, (_, i) => 1521 + i),
          ...Array.from({ length: 10 }, (_, i) => 1551 + i),
        ]);
        expect(rows.map((r) => r.topic)).to.deep.equal(sparse.slice(20, 60));
        const json = await store.listEventsAsJson({ topicPattern: pattern, after: 1520, limit: 40 });
        expect(json.map(([seq]) => seq)).to.deep.equal(rows.map((r) => r.seq));
      }));

    it('treats a pattern without wildcards as that topic, and refuses a topic and a pattern at once', () =>
      withPatternTopics(async (store) => {
        const exact = await store.listEvents({
          topicPattern: parseTopicPattern('eu.orders.error'),
          after: 0,
          limit: 9,
        });
        expect(exact).to.deep.equal(await store.listEvents({ topic: 'eu.orders.error', after: 0, limit: 9 }));
        let error: unknown;
        await store
          .listEvents({ topic: 'eu', topicPattern: parseTopicPattern('eu.>'), after: 0, limit: 9 })
          .catch((e: unknown) => {
            error = e;
          });
        expect(error).to.be.instanceOf(Error);
      }));

    it('lists topics by name in byte order, with counts and last seqs equal to what their events say', () =>
      withStore(async (store) => {
        const topics = ['b', 'B', 'a.x', 'a.y', 'é', 'z', 'a', 'a.x.1'];
        await applyBatch(
          store,
          'j1',
          topics.map((t) => event(t, '1')),
        );
        await applyBatch(store, 'j2', [event('a.x', '2'), event('z', '2'), event('a.x', '3'), event('a.x', '1')]);
        const stats = await store.listTopicStats({ limit: 100 });
        // Byte order: uppercase before lowercase, `a` before `a.x`, and `é` (0xC3 0xA9) last.
        expect(stats.map((s) => s.topic)).to.deep.equal(['B', 'a', 'a.x', 'a.x.1', 'a.y', 'b', 'z', 'é']);
        for (const s of stats) {
          const rows = await store.listEvents({ topic: s.topic, after: 0, limit: 100 });
          expect(s).to.deep.equal({ topic: s.topic, events: rows.length, last_seq: rows.at(-1)?.seq });
        }
        expect(stats.find((s) => s.topic === 'a.x')).to.deep.equal({ topic: 'a.x', events: 3, last_seq: 11 });
        // Paged by the last name seen.
        const first = await store.listTopicStats({ limit: 3 });
        const second = await store.listTopicStats({ after: first.at(-1)?.topic, limit: 3 });
        const third = await store.listTopicStats({ after: second.at(-1)?.topic, limit: 3 });
        expect([...first, ...second, ...third]).to.deep.equal(stats);
        expect(third.length).to.equal(2);
        expect(await store.listTopicStats({ after: 'é', limit: 3 })).to.deep.equal([]);
        // Only the topics a pattern matches, paged too.
        const ofA = await store.listTopicStats({ topicPattern: parseTopicPattern('a.*'), limit: 100 });
        expect(ofA.map((s) => s.topic)).to.deep.equal(['a.x', 'a.y']);
        const pageOfA = await store.listTopicStats({ topicPattern: parseTopicPattern('a.>'), after: 'a.x', limit: 1 });
        expect(pageOfA.map((s) => s.topic)).to.deep.equal(['a.x.1']);
        expect(await store.listTopicStats({ topicPattern: parseTopicPattern('*'), limit: 100 })).to.have.length(5);
        // A pattern without wildcards is that one topic (read as a one-name range), not its children.
        for (const name of ['a', 'a.x', 'é']) {
          const one = await store.listTopicStats({ topicPattern: parseTopicPattern(name), limit: 100 });
          expect(one).to.deep.equal(stats.filter((s) => s.topic === name));
        }
        expect(await store.listTopicStats({ topicPattern: parseTopicPattern('a.q'), limit: 100 })).to.deep.equal([]);
      }));

    it('pages the topics a pattern matches when many names of its range do not match', () =>
      withStore(async (store) => {
        // 1,200 names under `r.`, of which `r.*.k` matches 3, far apart: more than one read of the range.
        const names = Array.from(
          { length: 1200 },
          (_, i) => `r.${String(i).padStart(4, '0')}${i % 500 === 7 ? '.k' : ''}`,
        );
        await applyBatch(
          store,
          'j',
          names.map((t) => event(t, '1')),
        );
        const pattern = parseTopicPattern('r.*.k');
        const first = await store.listTopicStats({ topicPattern: pattern, limit: 2 });
        const rest = await store.listTopicStats({ topicPattern: pattern, after: first.at(-1)?.topic, limit: 2 });
        expect([...first, ...rest].map((s) => s.topic)).to.deep.equal(['r.0007.k', 'r.0507.k', 'r.1007.k']);
        expect(await listed(store, 'r.*.k')).to.deep.equal(['r.0007.k#1', 'r.0507.k#1', 'r.1007.k#1']);
      }));

    /**
     * Four writers commit groups at once (several jobs per group, overlapping pairs: duplicates
     * too) while a reader pages with `after=` through `query`, then until the end. `check` gets the
     * seqs the reader saw, the seqs `query` lists at rest, and the reader, still open.
     */
    const tailWhileWriting = (
      topicOf: (writer: number, group: number, i: number) => string,
      query: Omit<ListQuery, 'after' | 'limit'>,
      check: (seen: number[], stored: number[], reader: EventStoreReader) => Promise<void>,
    ) =>
      withStore(async (first, config) => {
        const writers = [first, ...(await Promise.all([1, 2, 3].map(() => openStoreWriter(config))))];
        const reader = await openStoreReader(config);
        const groupsPerWriter = 40;
        let writing = true;
        try {
          const written = Promise.all(
            writers.map(async (writer, w) => {
              for (let g = 0; g < groupsPerWriter; g++) {
                await writer.applyBatches(
                  [0, 1, 2].map((j) => ({
                    jobId: `w${w}-g${g}-j${j}`,
                    events: Array.from({ length: 1 + ((g + j) % 7) }, (_, i) =>
                      event(topicOf(w, g, i), `${(g * 31 + j * 7 + i * (w + 1)) % 200}-${g % 5}`),
                    ),
                  })),
                );
              }
            }),
          ).finally(() => {
            writing = false;
          });
          const seen: number[] = [];
          let after = 0;
          const follow = async () => {
            const page = await reader.listEvents({ ...query, after, limit: 7 });
            for (const row of page) seen.push(row.seq);
            after = page.at(-1)?.seq ?? after;
            return page.length;
          };
          // Tail while the writers run, then until the end.
          while (writing) await follow();
          await written;
          while ((await follow()) > 0);
          const stored = (await reader.listEvents({ ...query, after: 0, limit: 1_000_000 })).map((r) => r.seq);
          await check(seen, stored, reader);
        } finally {
          writing = false;
          await Promise.all([...writers.slice(1).map((w) => w.close()), reader.close()]);
        }
      });

    it('never lets a reader tailing after= miss an event while several writers commit at once', () =>
      tailWhileWriting(
        (_w, _g, i) => `t${i % 3}`,
        {},
        async (seen, stored, reader) => {
          expect(stored.length).to.be.greaterThan(100);
          // Every stored row was seen, once, in order: no row became visible after the reader had
          // moved past its seq.
          expect(seen).to.deep.equal(stored);
          if (adapter.gaplessUnderRaces) {
            expect(stored).to.deep.equal(Array.from({ length: stored.length }, (_, i) => i + 1));
          } else {
            expect(stored.every((seq, i) => i === 0 || seq > (stored[i - 1] as number))).to.equal(true);
          }
          expect((await reader.readCounters()).unique_processed).to.equal(stored.length);
        },
      ));

    it('never lets a reader tailing a pattern miss an event of a topic created meanwhile', () =>
      tailWhileWriting(
        // Every group creates a topic the pattern matches, whose first event takes a lower seq than
        // the group's event of a topic the reader already knows (and one it does not match).
        (w, g, i) => [`p.${w}.${g}`, 'p.known', `q.${g}`][i % 3] as string,
        { topicPattern: parseTopicPattern('p.>') },
        async (seen, stored, reader) => {
          const all = await reader.listEvents({ after: 0, limit: 1_000_000 });
          const matched = all.filter((r) => r.topic.startsWith('p.')).map((r) => r.seq);
          expect(matched.length).to.be.greaterThan(100);
          expect(matched.length).to.be.below(all.length);
          expect(stored).to.deep.equal(matched);
          // Seen once each, in order: a topic found by a later page never had events below `after`.
          expect(seen).to.deep.equal(stored);
        },
      ));
  });
}
