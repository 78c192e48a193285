import { expect } from 'chai';
import { mirrorState } from './countersMirror.js';

const ZERO = { received: 0, unique_processed: 0, duplicate_dropped: 0 };
const SOME = { received: 5, unique_processed: 4, duplicate_dropped: 1 };

describe('mirrorState (what a resync found in Redis)', () => {
  it('calls a fresh Redis beside an empty store a new installation, not a loss', () => {
    expect(mirrorState({ storeId: 's1', topics: 0, counters: ZERO }, { storeId: null, topics: 0 })).to.equal('new');
  });

  it('calls a Redis without the counters of a store that holds events a loss', () => {
    expect(mirrorState({ storeId: 's1', topics: 2, counters: SOME }, { storeId: null, topics: 0 })).to.equal('lost');
    // Events with no topic yet counted still make the store non-empty.
    expect(mirrorState({ storeId: 's1', topics: 0, counters: SOME }, { storeId: null, topics: 0 })).to.equal('lost');
  });

  it('calls topics missing from a Redis that mirrors this store a loss', () => {
    expect(mirrorState({ storeId: 's1', topics: 3, counters: SOME }, { storeId: 's1', topics: 1 })).to.equal('lost');
  });

  it('tells a Redis that mirrors another store apart, even when this store is empty', () => {
    expect(mirrorState({ storeId: 's1', topics: 0, counters: ZERO }, { storeId: 's0', topics: 4 })).to.equal(
      'other_store',
    );
  });

  it('leaves a Redis that mirrors this store as it is', () => {
    expect(mirrorState({ storeId: 's1', topics: 2, counters: SOME }, { storeId: 's1', topics: 2 })).to.equal('current');
    expect(mirrorState({ storeId: 's1', topics: 0, counters: ZERO }, { storeId: 's1', topics: 0 })).to.equal('current');
  });
});
