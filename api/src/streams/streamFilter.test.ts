import { parseTopicPattern } from '@aggregator/common';
import { expect } from 'chai';
import { filterMatches, topicOfEventJson } from './streamFilter.js';

const eventJson = (topic: string) =>
  `{"topic":${JSON.stringify(topic)},"event_id":"e\\"1","timestamp":"t","source":"s","payload":{"topic":"no"},"seq":1}`;

describe('stream filter', () => {
  it('reads the topic of an event JSON, escapes included', () => {
    for (const topic of ['orders', 'a"b', 'back\\slash', 'ü.☃.x', '"', '\\', 'a\\"b\\\\']) {
      expect(topicOfEventJson(eventJson(topic))).to.equal(topic);
    }
  });

  it('refuses a text that does not start with the topic', () => {
    expect(() => topicOfEventJson('{"event_id":"x"}')).to.throw(/topic/);
  });

  it('matches one topic, a pattern, or everything', () => {
    expect(filterMatches({}, 'x')).to.equal(true);
    expect(filterMatches({ topic: 'a.b' }, 'a.b')).to.equal(true);
    expect(filterMatches({ topic: 'a.b' }, 'a.c')).to.equal(false);
    const pattern = parseTopicPattern('a.*');
    expect(filterMatches({ topicPattern: pattern }, 'a.c')).to.equal(true);
    expect(filterMatches({ topicPattern: pattern }, 'b.c')).to.equal(false);
  });
});
