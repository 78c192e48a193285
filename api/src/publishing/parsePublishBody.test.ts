import { expect } from 'chai';
import { AppError, ValidationError } from '../http/appErrors.js';
import { parsePublishBody } from './parsePublishBody.js';

const valid = {
  topic: 'orders',
  event_id: 'e-1',
  timestamp: '2025-01-31T12:00:00Z',
  source: 'shop',
  payload: { a: 1 },
};

function issuesOf(body: unknown, maxBatch = 100) {
  try {
    parsePublishBody(body, maxBatch);
  } catch (e) {
    if (e instanceof AppError) return { status: e.status, code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected the body to be rejected');
}

describe('parsePublishBody', () => {
  it('accepts one event, an array, and {"events": [...]}', () => {
    expect(parsePublishBody(valid, 10)).to.have.length(1);
    expect(parsePublishBody([valid, valid], 10)).to.have.length(2);
    expect(parsePublishBody({ events: [valid, valid, valid] }, 10)).to.have.length(3);
  });

  it('rejects an empty batch in both batch shapes with 422', () => {
    expect(issuesOf([])).to.include({ status: 422, code: 'validation_failed' });
    expect(issuesOf({ events: [] })).to.include({ status: 422, code: 'validation_failed' });
  });

  it('rejects bodies that are not objects or arrays', () => {
    for (const body of [null, 1, 'x', true]) expect(issuesOf(body)).to.include({ status: 422 });
  });

  it('rejects the whole batch when one event is invalid, naming its index and field', () => {
    const result = issuesOf([valid, valid, valid, { ...valid, timestamp: 'yesterday' }]);
    expect(result.status).to.equal(422);
    expect(result.message).to.match(/^1 of 4 events is invalid; nothing was accepted$/);
    expect(result.details).to.deep.equal([
      {
        index: 3,
        path: 'timestamp',
        message: 'must be an RFC 3339 date-time with Z or an offset, e.g. 2025-01-31T12:00:00Z',
      },
    ]);
  });

  it('counts the batch with the noun and the invalid events with the verb', () => {
    const bad = { ...valid, timestamp: 'yesterday' };
    expect(issuesOf([bad]).message).to.equal('1 of 1 event is invalid; nothing was accepted');
    expect(issuesOf([valid, bad, bad]).message).to.equal('2 of 3 events are invalid; nothing was accepted');
  });

  it('caps the reported issues at 100', () => {
    const body = Array.from({ length: 500 }, () => ({ ...valid, topic: '' }));
    const result = issuesOf(body, 1000);
    expect(result.details).to.have.length(100);
    expect(result.message).to.match(/500 of 500 events are invalid/);
  });

  it('rejects more than maxBatch events with 413 before validating them', () => {
    const result = issuesOf(
      Array.from({ length: 11 }, () => ({})),
      10,
    );
    expect(result).to.include({ status: 413, code: 'batch_too_large' });
  });

  it('throws ValidationError instances', () => {
    expect(() => parsePublishBody([{}], 10)).to.throw(ValidationError);
  });
});
