import { expect } from 'chai';
import { createKeys, pairIdentity } from './keys.js';

describe('createKeys', () => {
  const keys = createKeys('agg');

  it('gives distinct pairs distinct identities, even when their concatenations agree', () => {
    const pairs: Array<[string, string]> = [
      ['a', 'bc'],
      ['ab', 'c'],
      ['a:1', 'b'],
      ['a', ':1b'],
      ['1:a', 'b'],
      ['1', ':ab'],
      ['x', ''],
      ['', 'x'],
      ['日本', '語'],
      ['日', '本語'],
    ];
    const seen = new Map<string, string>();
    for (const [topic, id] of pairs) {
      const key = pairIdentity(topic, id);
      expect(seen.has(key), `${topic}/${id} collides with ${seen.get(key)}`).to.equal(false);
      seen.set(key, `${topic}/${id}`);
    }
  });

  it('is injective over many random pairs drawn from a tiny alphabet', () => {
    const alphabet = ['a', ':', '1', '2', '0'];
    const pick = () =>
      Array.from({ length: Math.floor(Math.random() * 4) }, () => alphabet[Math.floor(Math.random() * 5)]).join('');
    const byKey = new Map<string, string>();
    for (let i = 0; i < 20_000; i++) {
      const topic = pick();
      const id = pick();
      const pair = JSON.stringify([topic, id]);
      const key = pairIdentity(topic, id);
      const before = byKey.get(key);
      if (before !== undefined) expect(before).to.equal(pair);
      byKey.set(key, pair);
    }
  });

  it('keeps every family under the prefix and apart from each other', () => {
    const queue = keys.queues[0];
    const fixed = [keys.stats, keys.topics, keys.workers, queue?.bullPrefix, queue?.fastPath, queue?.probe];
    expect(new Set(fixed).size).to.equal(fixed.length);
    for (const k of fixed) expect(k?.startsWith('agg:')).to.equal(true);
    expect(createKeys('other').stats).to.not.equal(keys.stats);
  });

  it('keeps the plain layout of one queue on one Redis exactly as it always was', () => {
    expect(keys.queues).to.have.length(1);
    expect(keys.queues[0]).to.include({ bullPrefix: 'agg:bull', queueName: 'events' });
    expect([keys.stats, keys.topics, keys.workers]).to.deep.equal(['agg:stats', 'agg:topics', 'agg:workers']);
    expect(pairIdentity('orders', 'e-1')).to.equal('6:orderse-1');
  });
});

/** The part of a key Redis Cluster hashes: the first non-empty `{…}`, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open !== -1 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('createKeys with partitions or on a cluster', () => {
  const partitioned = createKeys('agg', { partitions: 4 });
  const cluster = createKeys('agg', { partitions: 4, cluster: true });

  it('gives each partition its own hash-tagged prefix, shared by its fast-path keys', () => {
    expect(partitioned.queues.map((q) => q.bullPrefix)).to.deep.equal(['{agg:p0}', '{agg:p1}', '{agg:p2}', '{agg:p3}']);
    for (const topic of ['orders', 'a', '日本', '{x}', '}{']) {
      const queue = partitioned.queues[partitioned.partitionOf(topic)];
      const key = (queue?.fastPath ?? '') + ':0:0';
      expect(hashTag(queue?.probe ?? '')).to.equal(hashTag(key));
      expect(hashTag(key)).to.equal(hashTag(`${queue?.bullPrefix}:${queue?.queueName}:wait`));
      expect(hashTag(key)).to.equal(`agg:p${partitioned.partitionOf(topic)}`);
    }
  });

  it('keeps partition n at the same keys whatever the number of partitions', () => {
    const eight = createKeys('agg', { partitions: 8 }).queue(3);
    expect(eight.bullPrefix).to.equal(partitioned.queue(3).bullPrefix);
    expect(eight.fastPath).to.equal(partitioned.queue(3).fastPath);
    expect(createKeys('agg', { partitions: 2 }).queue(3).bullPrefix).to.equal('{agg:p3}');
  });

  it('puts the counters and the topic set in one slot on a cluster, and keeps them plain otherwise', () => {
    expect(hashTag(cluster.stats)).to.equal(hashTag(cluster.topics));
    expect(hashTag(cluster.stats)).to.equal('agg');
    expect(partitioned.stats).to.equal('agg:stats');
  });

  it('uses hash tags for a single queue on a cluster', () => {
    const single = createKeys('agg', { cluster: true });
    expect(single.queues.map((q) => q.bullPrefix)).to.deep.equal(['{agg:p0}']);
    expect(hashTag(single.queues[0]?.fastPath ?? '')).to.equal('agg:p0');
  });

  it('gives each partition distinct fast-path and probe keys, apart from every other family', () => {
    const perPartition = [0, 1, 2, 3, 12].flatMap((p) => [cluster.queue(p).fastPath, cluster.queue(p).probe]);
    expect(new Set(perPartition).size).to.equal(perPartition.length);
    const families = [
      cluster.stats,
      cluster.topics,
      cluster.workers,
      ...cluster.queues.map((q) => q.bullPrefix),
      ...perPartition,
    ];
    expect(new Set(families).size).to.equal(families.length);
  });
});
