import { parseTopicPattern } from '@aggregator/common';
import { expect } from 'chai';
import { topicRange } from './topicRange.js';

describe('topicRange', () => {
  it('bounds the topics a prefix selects by a byte-ordered range that holds all of them and no other', () => {
    expect(topicRange(parseTopicPattern('eu.*'))).to.deep.equal({ from: 'eu.', to: 'eu/' });
    expect(topicRange(parseTopicPattern('*.error'))).to.equal(undefined);
    expect(topicRange(parseTopicPattern('eu.orders'))).to.equal(undefined);
    const range = topicRange(parseTopicPattern('eu.*')) as { from: string; to: string };
    const inRange = (t: string) =>
      Buffer.compare(Buffer.from(t), Buffer.from(range.from)) >= 0 &&
      Buffer.compare(Buffer.from(t), Buffer.from(range.to)) < 0;
    for (const t of ['eu.', 'eu.a', 'eu.\u{10ffff}', 'eu.日本', 'eu.~~~.x']) expect(inRange(t), t).to.equal(true);
    for (const t of ['eu', 'eu-x', 'eu/', 'eu0', 'e', 'euro.a', 'f']) expect(inRange(t), t).to.equal(false);
  });
});
