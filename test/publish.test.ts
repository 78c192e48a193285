import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { makeEvent, withStack } from './support/withStack.js';

const json = { 'content-type': 'application/json' };

function expectErrorShape(body: unknown, code: string): void {
  expect(body).to.have.property('error').that.includes({ code });
  expect((body as { error: { message: unknown } }).error.message)
    .to.be.a('string')
    .and.not.match(/\n\s+at /);
}

describe('POST /publish', () => {
  before(requireTool(REDIS_SERVER));
  it('accepts one event, an array and {"events": [...]} and stores every one', () =>
    withStack({}, async (stack) => {
      const one = await stack.publish(makeEvent());
      const array = await stack.publish([makeEvent(), makeEvent()]);
      const wrapped = await stack.publish({ events: [makeEvent(), makeEvent(), makeEvent()] });
      expect([one.statusCode, array.statusCode, wrapped.statusCode]).to.deep.equal([200, 200, 200]);
      expect([one.json(), array.json(), wrapped.json()]).to.deep.equal([
        { accepted: 1 },
        { accepted: 2 },
        { accepted: 3 },
      ]);
      const stats = await stack.settle(6);
      expect(stats).to.include({ received: 6, unique_processed: 6, duplicate_dropped: 0 });
    }));

  it('counts duplicates in `accepted` too', () =>
    withStack({}, async (stack) => {
      const e = makeEvent();
      expect((await stack.publish([e, e, e])).json()).to.deep.equal({ accepted: 3 });
    }));

  it('rejects a batch with one invalid event whole: 422, nothing enqueued', () =>
    withStack({ workers: 0 }, async (stack) => {
      const res = await stack.publish([makeEvent(), makeEvent(), makeEvent(), { ...makeEvent(), timestamp: 'soon' }]);
      expect(res.statusCode).to.equal(422);
      expectErrorShape(res.json(), 'validation_failed');
      expect(res.json().error.details).to.deep.include({
        index: 3,
        path: 'timestamp',
        message: 'must be an RFC 3339 date-time with Z or an offset, e.g. 2025-01-31T12:00:00Z',
      });
      const counts = await stack.queue.getJobCounts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(0);
    }));

  it('answers 422 for an empty batch', () =>
    withStack({ workers: 0 }, async (stack) => {
      for (const body of [[], { events: [] }]) {
        const res = await stack.publish(body);
        expect(res.statusCode).to.equal(422);
        expectErrorShape(res.json(), 'validation_failed');
      }
    }));

  it('answers 400 for malformed or empty JSON', () =>
    withStack({ workers: 0 }, async (stack) => {
      for (const payload of ['{"topic":', '', 'undefined', '[1,]']) {
        const res = await stack.request({ method: 'POST', url: '/publish', headers: json, payload });
        expect(res.statusCode, payload).to.equal(400);
        expectErrorShape(res.json(), 'malformed_json');
      }
    }));

  it('answers 415 for a content type other than JSON in UTF-8', () =>
    withStack({ workers: 0 }, async (stack) => {
      const types = ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'];
      for (const type of types) {
        const res = await stack.request({
          method: 'POST',
          url: '/publish',
          headers: { 'content-type': type },
          payload: JSON.stringify(makeEvent()),
        });
        expect(res.statusCode, type).to.equal(415);
        expectErrorShape(res.json(), 'unsupported_media_type');
      }
      const none = await stack.request({ method: 'POST', url: '/publish', payload: Buffer.from('{}') });
      expect(none.statusCode).to.equal(415);
    }));

  it('accepts application/json with charset utf-8 and +json types', () =>
    withStack({ workers: 0 }, async (stack) => {
      for (const type of ['application/json; charset=utf-8', 'application/vnd.events+json']) {
        const res = await stack.request({
          method: 'POST',
          url: '/publish',
          headers: { 'content-type': type },
          payload: JSON.stringify(makeEvent()),
        });
        expect(res.statusCode, type).to.equal(200);
      }
    }));

  it('answers 413 for a body over MAX_BODY_BYTES and for more than MAX_BATCH events', () =>
    withStack({ workers: 0, env: { MAX_BODY_BYTES: '4096', MAX_BATCH: '5' } }, async (stack) => {
      const big = await stack.publish(makeEvent({ payload: { blob: 'x'.repeat(5000) } }));
      expect(big.statusCode).to.equal(413);
      expectErrorShape(big.json(), 'payload_too_large');
      const many = await stack.publish(Array.from({ length: 6 }, () => makeEvent()));
      expect(many.statusCode).to.equal(413);
      expectErrorShape(many.json(), 'batch_too_large');
      expect((await stack.publish(Array.from({ length: 5 }, () => makeEvent()))).statusCode).to.equal(200);
    }));

  it('enqueues a request as one job, even past JOB_MAX_EVENTS, so it is queued whole or not at all', () =>
    withStack({ workers: 0, env: { JOB_MAX_EVENTS: '10' } }, async (stack) => {
      expect((await stack.publish(Array.from({ length: 25 }, () => makeEvent()))).json()).to.deep.equal({
        accepted: 25,
      });
      const jobs = await stack.queue.getWaiting();
      expect(jobs.map((j) => j.data.events.length)).to.deep.equal([25]);
    }));

  it('returns the X-Request-Id it was given, or a new one', () =>
    withStack({ workers: 0 }, async (stack) => {
      const given = await stack.request({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
      expect(given.headers['x-request-id']).to.equal('abc-123');
      const made = await stack.request({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\u0001' } });
      expect(made.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    }));
});

describe('error replies', () => {
  before(requireTool(REDIS_SERVER));
  it('use the documented shape for unknown routes and methods', () =>
    withStack({ workers: 0 }, async (stack) => {
      const missing = await stack.request({ method: 'GET', url: '/nope' });
      expect(missing.statusCode).to.equal(404);
      expectErrorShape(missing.json(), 'not_found');
      const wrongMethod = await stack.request({ method: 'DELETE', url: '/publish' });
      expect(wrongMethod.statusCode).to.equal(405);
      expectErrorShape(wrongMethod.json(), 'method_not_allowed');
    }));
});
