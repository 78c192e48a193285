import { expect } from 'chai';
import type { ProcessStack } from './processStack.js';
import { pairKey } from './producer.js';

/** Every stored event's pair, in `seq` order, read through `GET /events` pages of 1,000. */
export async function listStoredPairs(apiUrl: string): Promise<string[]> {
  const keys: string[] = [];
  let next: string | undefined = '/events?limit=1000';
  while (next) {
    const res = await fetch(`${apiUrl}${next}`);
    expect(res.status, `GET ${next}`).to.equal(200);
    keys.push(...((await res.json()) as Array<{ topic: string; event_id: string }>).map(pairKey));
    next = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
  }
  return keys;
}

/**
 * Settles at `received`, then checks that the counters are exact, no job failed for good, and the
 * store holds each pair of `distinct` (see `pairKey`) exactly once and nothing else.
 */
export async function expectExactlyStored(
  stack: ProcessStack,
  distinct: ReadonlySet<string>,
  received: number,
): Promise<void> {
  const stats = await stack.settle(received);
  expect(stats).to.include({
    received,
    unique_processed: distinct.size,
    duplicate_dropped: received - distinct.size,
  });
  expect(stats.queue.failed).to.equal(0);
  const stored = await listStoredPairs(stack.apiUrls[stack.apis.findIndex((a) => a.running)] as string);
  expect(new Set(stored).size, 'a pair stored twice').to.equal(stored.length);
  expect(stored).to.have.members([...distinct]);
}
