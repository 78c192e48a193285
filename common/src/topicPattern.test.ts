import { expect } from 'chai';
import { parseTopicPattern, TopicPatternError } from './topicPattern.js';

describe('topic patterns', () => {
  // [pattern, topic, matches]
  const table: Array<[string, string, boolean]> = [
    ['eu.orders.created', 'eu.orders.created', true],
    ['eu.orders.created', 'eu.orders.created.x', false],
    ['eu.orders.created', 'eu.orders', false],
    ['eu.*.error', 'eu.orders.error', true],
    ['eu.*.error', 'eu.error', false],
    ['eu.*.error', 'eu.a.b.error', false],
    ['eu.*.error', 'us.orders.error', false],
    ['eu.*.error', 'eu.orders.errors', false],
    ['eu.>', 'eu.orders', true],
    ['eu.>', 'eu.orders.created.v2', true],
    ['eu.>', 'eu', false],
    ['eu.>', 'europe.orders', false],
    ['eu.>', 'eu.', true], // two segments, the second empty
    ['*', 'orders', true],
    ['*', 'eu.orders', false],
    ['*', '', true],
    ['>', 'orders', true],
    ['>', 'eu.orders.created', true],
    ['*.>', 'eu', false],
    ['*.>', 'eu.orders', true],
    ['*.*', 'a..b', false],
    ['a.*.b', 'a..b', true], // an empty segment is one segment
    // Topic segments holding * or > are plain characters, matched only through a wildcard.
    ['a.*', 'a.*', true],
    ['a.*', 'a.b*', true],
    ['a.>', 'a.>', true],
    ['a.*.c', 'a.>.c', true],
    ['*.c', 'a*.c', true],
    ['a.b', 'a.b*', false],
    // Unicode in segments: compared character for character, never normalised.
    ['eu.*.fehler', 'eu.bestellungen.fehler', true],
    ['日本.*', '日本.東京', true],
    ['日本.*', '日本.東京.渋谷', false],
    ['*.東京', '日本.東京', true],
    ['café.*', 'cafe\u0301.x', false], // NFD is another topic
    ['🚀.>', '🚀.launch.ok', true],
    ['eu.*', 'eu.a\u2028b', true], // a line separator is no dot
  ];
  for (const [pattern, topic, expected] of table) {
    it(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(topic)} with ${JSON.stringify(pattern)}`, () => {
      expect(parseTopicPattern(pattern).matches(topic)).to.equal(expected);
    });
  }

  it('knows the one topic of a pattern without wildcards, and the literal prefix of the others', () => {
    expect(parseTopicPattern('eu.orders').exact).to.equal('eu.orders');
    expect(parseTopicPattern('eu.orders.*').exact).to.equal(undefined);
    expect(parseTopicPattern('eu.orders.*').prefix).to.equal('eu.orders.');
    expect(parseTopicPattern('eu.*.error').prefix).to.equal('eu.');
    expect(parseTopicPattern('eu.>').prefix).to.equal('eu.');
    expect(parseTopicPattern('*.error').prefix).to.equal('');
    expect(parseTopicPattern('>').prefix).to.equal('');
  });

  const refused: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /blank/],
    ['eu..error', /segment 2 .* is empty/],
    ['.eu', /segment 1 .* is empty/],
    ['eu.', /segment 2 .* is empty/],
    ['eu.>.error', /">" may only be the last segment/],
    ['>.>', /">" may only be the last segment/],
    ['a.b*', /segment "b\*" mixes a wildcard/],
    ['a.*b.c', /segment "\*b" mixes a wildcard/],
    ['a.>b', /segment ">b" mixes a wildcard/],
    ['a\u0000b', /control characters/],
    ['x'.repeat(256), /at most 255 characters/],
    ['a.\ud800', /well-formed/],
  ];
  for (const [pattern, message] of refused) {
    it(`refuses ${JSON.stringify(pattern.length > 20 ? `${pattern.slice(0, 20)}…` : pattern)}, saying why`, () => {
      expect(() => parseTopicPattern(pattern))
        .to.throw(TopicPatternError)
        .with.property('message')
        .that.matches(message);
    });
  }
});
