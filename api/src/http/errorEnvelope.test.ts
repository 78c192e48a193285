import { expect } from 'chai';
import { ValidationError } from './appErrors.js';
import { envelopeOf, errorEnvelope } from './errorEnvelope.js';

describe('errorEnvelope', () => {
  it('carries details only when there are some, so a reply never holds "details": undefined', () => {
    expect(errorEnvelope('not_found', 'no route')).to.deep.equal({ error: { code: 'not_found', message: 'no route' } });
    expect(JSON.stringify(errorEnvelope('not_found', 'no route'))).to.not.include('details');
    expect(errorEnvelope('shutting_down', 'bye', { last_event_id: 7 })).to.deep.equal({
      error: { code: 'shutting_down', message: 'bye', details: { last_event_id: 7 } },
    });
  });

  it("wraps an AppError's code, message and details", () => {
    const issues = [{ index: 0, path: 'topic', message: 'is required' }];
    expect(envelopeOf(new ValidationError('1 of 1 event is invalid', issues))).to.deep.equal({
      error: { code: 'validation_failed', message: '1 of 1 event is invalid', details: issues },
    });
  });
});
