import { expect } from 'chai';
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
