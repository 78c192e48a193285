import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Event } from '../types.js';
import type { EventStoreWriter } from './eventStore.js';
import { openStoreReader, openStoreWriter } from './sqliteStore.js';

const event = (topic: string, id: string, payload: Event['payload'] = {}): Event => ({
  topic,
  event_id: id,
  timestamp: '2025-01-31T12:00:00Z',
  source: 's',
  payload,
});

async function withStore(fn: (store: EventStoreWriter, path: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aggregator-store-'));
  const path = join(dir, 'nested', 'db.sqlite');
  const store = openStoreWriter(path);
  try {
    await fn(store, path);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite store', () => {
  it('inserts new pairs, drops duplicates inside a batch and across batches, and counts exactly', () =>
    withStore((store) => {
      const first = store.applyBatch('job-1', [event('a', '1'), event('a', '2'), event('a', '1')]);
      expect(first).to.include({ firstApplication: true, inserted: 2, duplicates: 1 });
      const second = store.applyBatch('job-2', [event('a', '2'), event('b', '2')]);
      expect(second).to.include({ inserted: 1, duplicates: 1 });
      expect(store.readCounters()).to.include({ received: 5, unique_processed: 3, duplicate_dropped: 2 });
      expect(store.countEvents()).to.equal(3);
      expect(store.listTopics()).to.deep.equal(['a', 'b']);
    }));

  it('treats the same event_id under two topics as two events', () =>
    withStore((store) => {
      expect(store.applyBatch('j', [event('a', 'x'), event('b', 'x')]).inserted).to.equal(2);
    }));

  it('applies a job once: a redelivered job changes nothing and reports the current counters', () =>
    withStore((store) => {
      store.applyBatch('job-1', [event('a', '1')]);
      const again = store.applyBatch('job-1', [event('a', '1'), event('a', '2')]);
      expect(again).to.include({ firstApplication: false, inserted: 0, duplicates: 0 });
      expect(again.counters).to.include({ received: 1, unique_processed: 1, duplicate_dropped: 0 });
      expect(store.countEvents()).to.equal(1);
    }));

  it('skips an event first claimed by another job that is applied here, counting it as a duplicate', () =>
    withStore((store) => {
      store.applyBatch('j1', [event('a', '1')]);
      const outcome = store.applyBatch('j2', [event('a', '1'), event('a', '2')], ['j1', '']);
      expect(outcome).to.include({ inserted: 1, duplicates: 1 });
      expect(store.countEvents()).to.equal(2);
    }));

  it('does not even ask the primary key about an event vouched for by an applied job', () =>
    withStore((store) => {
      // 'j1' is applied but never stored ('a','1'): only the claim can make j2 drop it, so this
      // shows the skip itself (the cases above would pass on the primary key alone).
      store.applyBatch('j1', [event('a', '0')]);
      const [alone] = store.applyBatches([{ jobId: 'j2', events: [event('a', '1')], claimedBy: ['j1'] }]);
      expect(alone).to.include({ inserted: 0, duplicates: 1 });
      const [, grouped] = store.applyBatches([
        { jobId: 'j3', events: [event('b', '0')], claimedBy: [''] },
        { jobId: 'j4', events: [event('b', '1')], claimedBy: ['j3'] },
      ]);
      expect(grouped).to.include({ inserted: 0, duplicates: 1 });
      expect(store.listEvents({ after: 0, limit: 10 }).map((r) => `${r.topic}${r.event_id}`)).to.deep.equal([
        'a0',
        'b0',
      ]);
    }));

  it('lets the primary key decide events claimed by a job that is not applied here, or by itself', () =>
    withStore((store) => {
      // 'ghost' claimed the pairs and died before its commit (or was applied in another store).
      const outcome = store.applyBatch('j2', [event('a', '1'), event('a', '2'), event('a', '1')], ['ghost', '', 'j2']);
      expect(outcome).to.include({ inserted: 2, duplicates: 1 });
      expect(store.listEvents({ after: 0, limit: 10 }).map((r) => r.event_id)).to.deep.equal(['1', '2']);
    }));

  it('trusts a claim by a job applied earlier in the same group commit', () =>
    withStore((store) => {
      const [first, second] = store.applyBatches([
        { jobId: 'j1', events: [event('a', '1')], claimedBy: [''] },
        { jobId: 'j2', events: [event('a', '1'), event('a', '2')], claimedBy: ['j1', ''] },
      ]);
      expect(first).to.include({ inserted: 1, duplicates: 0 });
      expect(second).to.include({ inserted: 1, duplicates: 1 });
      expect(second?.counters).to.include({ received: 3, unique_processed: 2, duplicate_dropped: 1 });
    }));

  it('assigns strictly increasing seq in processing order and lists by topic and after', () =>
    withStore((store) => {
      store.applyBatch('j1', [event('a', '1'), event('b', '1'), event('a', '2')]);
      store.applyBatch('j2', [event('a', '1'), event('a', '3')]);
      const all = store.listEvents({ after: 0, limit: 10 });
      expect(all.map((r) => r.seq)).to.deep.equal([1, 2, 3, 4]);
      expect(store.listEvents({ topic: 'a', after: 0, limit: 10 }).map((r) => r.event_id)).to.deep.equal([
        '1',
        '2',
        '3',
      ]);
      expect(store.listEvents({ topic: 'a', after: 1, limit: 1 }).map((r) => r.seq)).to.deep.equal([3]);
    }));

  it('stores payloads as JSON text, keys and numbers intact', () =>
    withStore((store) => {
      const payload = JSON.parse('{"__proto__":{"x":1},"n":1.5e300,"i":-0.000123,"s":"\\u0000é😀","a":[1,{"b":null}]}');
      store.applyBatch('j', [event('a', '1', payload)]);
      const [row] = store.listEvents({ after: 0, limit: 1 });
      expect(JSON.parse(row?.payload ?? '')).to.deep.equal(payload);
      expect(row?.payload).to.equal(JSON.stringify(payload));
    }));

  it('lists events as JSON built by SQLite that equals the rows, whatever the strings hold', () =>
    withStore((store) => {
      const awkward = ['quote"d', 'back\\slash', 'é😀\u2028\u2029', 'e\u0301 \u202e', '</script>', '{"a":1}'];
      const payload = JSON.parse('{"__proto__":{"x":1},"n":1.5e300,"s":"\\u0000\\"","big":12345678901234567890}');
      store.applyBatch(
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
        const rows = store.listEvents(query);
        const json = store.listEventsAsJson(query);
        expect(json.map(([seq]) => seq)).to.deep.equal(rows.map((r) => r.seq));
        expect(json.map(([, text]) => JSON.parse(text))).to.deep.equal(
          rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) })),
        );
        // The payload is spliced in byte for byte, as it was stored.
        for (const [i, [, text]] of json.entries()) expect(text).to.include(`"payload":${rows[i]?.payload},`);
      }
    }));

  it('is shared by two writers and a read-only reader on one file', () =>
    withStore((store, path) => {
      const other = openStoreWriter(path);
      const reader = openStoreReader(path);
      try {
        store.applyBatch('j1', [event('a', '1')]);
        other.applyBatch('j2', [event('a', '1'), event('a', '2')]);
        expect(reader.readCounters()).to.include({ received: 3, unique_processed: 2, duplicate_dropped: 1 });
        expect(reader.readCounters().store_id).to.equal(store.readCounters().store_id);
      } finally {
        other.close();
        reader.close();
      }
    }));

  it('refuses to open a missing store read-only', () => {
    expect(() => openStoreReader(join(tmpdir(), 'does-not-exist', 'db.sqlite'))).to.throw();
  });

  it('prunes applied-job records older than the cutoff', () =>
    withStore((store) => {
      store.applyBatch('old', [event('a', '1')]);
      expect(store.pruneAppliedJobs(Date.now() + 1000)).to.equal(1);
      expect(store.pruneAppliedJobs(Date.now() + 1000)).to.equal(0);
    }));
});
