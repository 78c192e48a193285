import { expect } from 'chai';
import { keySlot } from './keySlot.js';

describe('keySlot', () => {
  it('is CRC16-XMODEM mod 16384, as CLUSTER KEYSLOT answers', () => {
    expect(keySlot('123456789')).to.equal(0x31c3 % 16384); // the CRC16-XMODEM check value
    expect(keySlot('somekey')).to.equal(11058); // the Redis documentation's example
    expect(keySlot('foo')).to.equal(12182);
  });

  it('hashes only the first non-empty {hash tag}', () => {
    expect(keySlot('{user1000}.following')).to.equal(keySlot('user1000'));
    expect(keySlot('{agg:p3}:events:wait')).to.equal(keySlot('{agg:p3}:dedup:1:te'));
    // An empty first tag means "no tag": the whole key is hashed, not the later {bar}.
    expect(keySlot('foo{}{bar}')).to.not.equal(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).to.equal(keySlot('{bar'));
  });
});
