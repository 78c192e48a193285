import { UnrecoverableError } from 'bullmq';
import { expect } from 'chai';
import { validateJobData } from './validateJobData.js';

const valid = { topic: 't', event_id: 'e1', timestamp: '2025-01-31T12:00:00Z', source: 's', payload: { n: 1 } };

function refusal(data: unknown): UnrecoverableError {
  try {
    validateJobData(data);
  } catch (e) {
    expect(e).to.be.instanceOf(UnrecoverableError);
    return e as UnrecoverableError;
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe('validateJobData', () => {
  it('refuses an event of the right shape that the API schema refuses (the queue UI\'s "add job")', () => {
    // The shape the old structural check let through and the store kept.
    const error = refusal({ events: [valid, { ...valid, event_id: '', timestamp: 'bogus' }], acceptedAt: 1 });
    expect(error.message)
      .to.match(/1 of 2 events/)
      .and.match(/event 1 event_id: must not be empty or blank/);
  });

  it('refuses what the API refuses: control characters, a too deep payload, a lone surrogate', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 70; i++) deep = { d: deep };
    for (const bad of [{ topic: 'a\u0000b' }, { payload: deep }, { source: '\ud800' }, { payload: [1] }]) {
      expect(refusal({ events: [{ ...valid, ...bad }] }).message, JSON.stringify(bad)).to.match(/event 0/);
    }
  });

  it('refuses data that is not a batch, and names at most five events', () => {
    for (const data of [null, 'x', { events: [] }, { events: 'no' }]) refusal(data);
    const many = Array.from({ length: 9 }, () => ({ nope: true }));
    expect(refusal({ events: many }).message)
      .to.match(/9 of 9 events/)
      .and.match(/and 4 more\)$/);
  });

  it('returns the events as the schema outputs them, unknown fields dropped', () => {
    const { events, acceptedAt } = validateJobData({ events: [{ ...valid, extra: 1 }], acceptedAt: 7 });
    expect(events).to.deep.equal([valid]);
    expect(acceptedAt).to.equal(7);
  });
});
