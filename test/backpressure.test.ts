import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withStack } from './support/withStack.js';

describe('backpressure', () => {
  before(requireTool(REDIS_SERVER));
  it('answers 429 with Retry-After while the queue is over MAX_QUEUE_DEPTH, and accepts again once it drains', () =>
    withStack({ workers: 0, env: { MAX_QUEUE_DEPTH: '100', JOB_MAX_EVENTS: '50' } }, async (stack) => {
      for (let i = 0; i < 3; i++) {
        expect((await stack.publish(Array.from({ length: 50 }, () => makeEvent()))).statusCode).to.equal(200);
      }
      const refused = await waitUntil(
        async () => {
          const res = await stack.publish(makeEvent());
          return res.statusCode === 429 && res;
        },
        { what: 'a 429' },
      );
      expect(refused.headers['retry-after']).to.match(/^\d+$/);
      expect(refused.json().error.code).to.equal('queue_full');

      await stack.startWorker();
      await waitUntil(async () => (await stack.publish(makeEvent())).statusCode === 200, {
        what: 'publish accepted again',
      });
    }));

  it('never limits when MAX_QUEUE_DEPTH is 0', () =>
    withStack({ workers: 0, env: { MAX_QUEUE_DEPTH: '0' } }, async (stack) => {
      for (let i = 0; i < 20; i++) expect((await stack.publish([makeEvent(), makeEvent()])).statusCode).to.equal(200);
    }));
});
