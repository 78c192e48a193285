import type { Event } from '@aggregator/common';
import { expect } from 'chai';

/** Publishes `events` in batches of `size`, `parallel` requests at a time; every one must get 200. */
export async function publishInBatches(
  publish: (body: unknown) => Promise<{ statusCode: number }>,
  events: readonly Event[],
  options: { size: number; parallel: number },
): Promise<void> {
  const batches: Event[][] = [];
  for (let i = 0; i < events.length; i += options.size) batches.push(events.slice(i, i + options.size));
  for (let i = 0; i < batches.length; i += options.parallel) {
    const replies = await Promise.all(batches.slice(i, i + options.parallel).map((b) => publish(b)));
    expect(replies.map((r) => r.statusCode)).to.satisfy((codes: number[]) => codes.every((c) => c === 200));
  }
}
