import type { Event } from '@aggregator/common';
import { expect } from 'chai';
import type { Publisher } from './batchPublisher.js';
import { CoalescingPublisher } from './coalescingPublisher.js';

const events = (n: number, tag: string): Event[] =>
  Array.from({ length: n }, (_, i) => ({
    topic: 't',
    event_id: `${tag}-${i}`,
    timestamp: '2025-01-31T12:00:00Z',
    source: 's',
    payload: {},
  }));

/** A publisher of our own interface that records each call and lets the test settle it. */
function recorder() {
  const calls: Array<{ events: readonly Event[]; settle: (error?: Error) => void }> = [];
  const publisher: Publisher = {
    publish: (batch) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ events: batch, settle: (error) => (error ? reject(error) : resolve()) });
      }),
  };
  return { calls, publisher };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Lets the event loop run until the publisher has made `n` calls (fails after 1,000 turns). */
async function callsMade(calls: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 1000 && calls.length < n; i++) await turn();
  expect(calls.length, 'calls made').to.be.at.least(n);
}

describe('CoalescingPublisher', () => {
  it('sends a lone request on the next turn, unchanged', async () => {
    const { calls, publisher } = recorder();
    const coalescing = new CoalescingPublisher(publisher, { maxInFlight: 1, lingerMs: 0, maxEvents: 100 });
    const done = coalescing.publish(events(3, 'a'));
    await turn();
    expect(calls.map((c) => c.events.length)).to.deep.equal([3]);
    calls[0]?.settle();
    await done;
  });

  it('coalesces requests that arrive during a flush, whole, up to maxEvents per flush', async () => {
    const { calls, publisher } = recorder();
    const coalescing = new CoalescingPublisher(publisher, { maxInFlight: 1, lingerMs: 0, maxEvents: 10 });
    const first = coalescing.publish(events(2, 'first'));
    await callsMade(calls, 1);
    const waiting = [4, 4, 4, 30].map((n, i) => coalescing.publish(events(n, `w${i}`)));
    for (let i = 0; i < 4; i++) {
      await callsMade(calls, i + 1);
      calls[i]?.settle();
    }
    await Promise.all([first, ...waiting]);
    // 4 + 4 fit in one job of 10; the third 4 would not; the 30 goes alone.
    expect(calls.map((c) => c.events.length)).to.deep.equal([2, 8, 4, 30]);
  });

  it('fails every request of a failed flush, and only those', async () => {
    const { calls, publisher } = recorder();
    const coalescing = new CoalescingPublisher(publisher, { maxInFlight: 1, lingerMs: 0, maxEvents: 100 });
    const first = coalescing.publish(events(1, 'x'));
    await callsMade(calls, 1);
    const a = coalescing.publish(events(1, 'a'));
    const b = coalescing.publish(events(1, 'b'));
    calls[0]?.settle();
    await first;
    await callsMade(calls, 2);
    expect(calls[1]?.events.length).to.equal(2);
    calls[1]?.settle(new Error('redis down'));
    const results = await Promise.allSettled([a, b]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    const later = coalescing.publish(events(1, 'later'));
    await callsMade(calls, 3);
    calls[2]?.settle();
    await later;
  });
});
