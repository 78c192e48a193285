import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Event, loadConfig } from '@aggregator/common';
import { openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import { GroupCommitter } from './groupCommit.js';

const event = (id: string, payload: Record<string, unknown> = {}): Event =>
  ({ topic: 't', event_id: id, timestamp: '2025-01-31T12:00:00Z', source: 's', payload }) as Event;

describe('GroupCommitter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aggregator-group-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies jobs that arrive together in one transaction, each exactly once, in order', async () => {
    const store = await openStoreWriter(loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite') }));
    try {
      const committer = new GroupCommitter(store);
      const outcomes = await Promise.all([
        committer.apply({ jobId: 'a', events: [event('1'), event('2')] }),
        committer.apply({ jobId: 'b', events: [event('2'), event('3')] }),
        committer.apply({ jobId: 'a', events: [event('1'), event('2')] }),
      ]);
      expect(outcomes.map((o) => [o.firstApplication, o.inserted, o.duplicates])).to.deep.equal([
        [true, 2, 0],
        [true, 1, 1],
        [false, 0, 0],
      ]);
      expect(outcomes[1]?.counters).to.include({ received: 4, unique_processed: 3, duplicate_dropped: 1 });
      expect(await store.readCounters()).to.include({ received: 4, unique_processed: 3 });
    } finally {
      await store.close();
    }
  });

  it('fails only the job that cannot be applied when a group fails', async () => {
    const store = await openStoreWriter(loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite') }));
    try {
      const committer = new GroupCommitter(store);
      // JSON.stringify throws on a BigInt: this job can never be stored.
      const results = await Promise.allSettled([
        committer.apply({ jobId: 'good-1', events: [event('1')] }),
        committer.apply({ jobId: 'poison', events: [event('2', { n: 10n })] }),
        committer.apply({ jobId: 'good-2', events: [event('3')] }),
      ]);
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(await store.readCounters()).to.include({ received: 2, unique_processed: 2 });
      expect((await store.listEvents({ after: 0, limit: 10 })).map((r) => r.event_id)).to.deep.equal(['1', '3']);
    } finally {
      await store.close();
    }
  });

  it('announces each commit that stored events with its highest seq, and no commit of duplicates only', async () => {
    const store = await openStoreWriter(loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite') }));
    try {
      const announced: number[] = [];
      const committer = new GroupCommitter(store, (seq) => announced.push(seq));
      await Promise.all([
        committer.apply({ jobId: 'a', events: [event('1'), event('2')] }),
        committer.apply({ jobId: 'b', events: [event('3')] }),
      ]);
      await committer.apply({ jobId: 'c', events: [event('1')] });
      await committer.apply({ jobId: 'd', events: [event('4')] });
      expect(announced).to.deep.equal([3, 4]);
    } finally {
      await store.close();
    }
  });
});
