import { expect } from 'chai';
import { fnv1a32, parsePartitionList, partitionOf } from './partition.js';

describe('partitionOf', () => {
  it('hashes with FNV-1a 32-bit over UTF-8 (the published test vectors)', () => {
    expect(fnv1a32('')).to.equal(0x811c9dc5);
    expect(fnv1a32('a')).to.equal(0xe40c292c);
    expect(fnv1a32('foobar')).to.equal(0xbf9cf968);
    // Multi-byte characters hash by their UTF-8 bytes, not by UTF-16 code units.
    expect(fnv1a32('日本')).to.equal(0x9f26ee51);
  });

  it('maps a topic to the same documented partition every time', () => {
    expect(partitionOf('orders', 4)).to.equal(0x325e96ec % 4);
    expect(partitionOf('orders', 8)).to.equal(4);
    expect(partitionOf('a', 8)).to.equal(4);
    expect(partitionOf('日本', 4)).to.equal(1);
    expect(partitionOf('anything', 1)).to.equal(0);
  });

  it('spreads many topics over every partition', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`topic-${i}`, 8)]++;
    for (const n of counts) expect(n).to.be.within(800, 1200);
  });
});

describe('parsePartitionList', () => {
  it('reads single partitions and ranges, sorted and distinct', () => {
    expect(parsePartitionList('0-3,6')).to.deep.equal([0, 1, 2, 3, 6]);
    expect(parsePartitionList('6, 2-3 ,2')).to.deep.equal([2, 3, 6]);
  });

  it('rejects malformed lists with a readable message', () => {
    expect(() => parsePartitionList('0-3,x')).to.throw(/"x" is not a partition or a range/);
    expect(() => parsePartitionList('')).to.throw(/is not a partition/);
    expect(() => parsePartitionList('5-2')).to.throw(/runs backwards/);
  });
});
