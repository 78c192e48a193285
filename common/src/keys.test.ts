import { expect } from 'chai';
import { createKeys } from './keys.js';

describe('createKeys', () => {
  const keys = createKeys('agg');

  it('gives distinct pairs distinct dedup keys, even when their concatenations agree', () => {
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
      const key = keys.dedup(topic, id);
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
      const key = keys.dedup(topic, id);
      const before = byKey.get(key);
      if (before !== undefined) expect(before).to.equal(pair);
      byKey.set(key, pair);
    }
  });

  it('keeps every family under the prefix and apart from each other', () => {
    const fixed = [keys.stats, keys.topics, keys.workers, keys.bullPrefix];
    expect(new Set(fixed).size).to.equal(fixed.length);
    for (const k of [...fixed, keys.dedup('t', 'e')]) expect(k.startsWith('agg:')).to.equal(true);
    expect(createKeys('other').stats).to.not.equal(keys.stats);
  });
});
