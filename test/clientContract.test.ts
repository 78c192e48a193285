import type { publishReplySchema, storedEventSchema } from '@aggregator/api';
import { ERROR_CODES } from '@aggregator/api';
import {
  ApiError,
  Client,
  EVENT_FIELDS,
  type EventOutcome,
  eventId,
  HANDLED_ERROR_CODES,
  type PublishEvent,
  type PublishReply,
  STORED_EVENT_FIELDS,
  type StoredEvent,
} from '@aggregator/client';
import type { eventSchema } from '@aggregator/common';
import { expect } from 'chai';
import type { z } from 'zod';
import { fetchThrough } from './support/clientFetch.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { withStack } from './support/withStack.js';

/**
 * The client declares its own types (it cannot import the API's zod schemas: they pull in Node-only
 * code). These lines fail to compile when either side changes a field, its type or its optionality.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const publishEventMatchesSchema: Same<PublishEvent, z.input<typeof eventSchema>> = true;
const storedEventMatchesSchema: Same<StoredEvent, z.output<typeof storedEventSchema>> = true;
const publishReplyMatchesSchema: Same<PublishReply, z.output<typeof publishReplySchema>> = true;

type Json = Record<string, unknown>;

function makeEvent(topic: string, payload: PublishEvent['payload'] = {}): PublishEvent {
  return { topic, event_id: eventId(), timestamp: new Date().toISOString(), source: 'contract', payload };
}

describe('client and API contract', () => {
  before(requireTool(REDIS_SERVER));

  it('declares the types of the schemas the API validates with', () => {
    expect([publishEventMatchesSchema, storedEventMatchesSchema, publishReplyMatchesSchema]).to.deep.equal([
      true,
      true,
      true,
    ]);
  });

  it('agrees with the OpenAPI document on fields, parameters and error codes', () =>
    withStack({ workers: 0 }, async (stack) => {
      const res = await stack.request({ method: 'GET', url: '/openapi.json' });
      const doc = res.json() as {
        components: { schemas: Record<string, { properties: Json; required?: string[] }> };
        paths: Record<string, Record<string, { parameters?: Array<{ name: string }>; responses: Json }>>;
      };
      const { Event, StoredEvent: Stored } = doc.components.schemas;
      expect(Object.keys(Event?.properties ?? {})).to.have.members([...EVENT_FIELDS]);
      // Every field but payload is required, as the client's type says.
      expect(Event?.required).to.have.members(EVENT_FIELDS.filter((f) => f !== 'payload'));
      expect(Object.keys(Stored?.properties ?? {})).to.have.members([...STORED_EVENT_FIELDS]);
      expect(Stored?.required).to.have.members([...STORED_EVENT_FIELDS]);
      const params = (path: string) => (doc.paths[path]?.get?.parameters ?? []).map((p) => p.name);
      // What pages() and stream() send.
      expect(params('/events')).to.include.members(['topic', 'topic_pattern', 'after', 'limit']);
      expect(params('/events/stream')).to.include.members(['topic', 'topic_pattern', 'after', 'Last-Event-ID']);
      // The replies the publisher retries (429, 503) or acts on (413, 422) are the API's.
      expect(Object.keys(doc.paths['/publish']?.post?.responses ?? {})).to.include.members([
        '200',
        '413',
        '422',
        '429',
        '503',
      ]);
      expect(ERROR_CODES).to.include.members(Object.values(HANDLED_ERROR_CODES));
    }));

  it('publishes, rejects only the invalid events of a batch, and pages through Link', () =>
    withStack({}, async (stack) => {
      const client = new Client({ url: 'http://in-process', fetch: fetchThrough(stack) });
      expect(await client.publish([makeEvent('c.a'), makeEvent('c.b')])).to.include({ accepted: 2, attempts: 1 });

      const outcomes: EventOutcome[] = [];
      const publisher = client.publisher({ maxBatchEvents: 10, onOutcome: (o) => outcomes.push(o) });
      const bad = { ...makeEvent('c.a'), timestamp: 'yesterday' };
      const delivery = await publisher.publish([makeEvent('c.a'), bad, makeEvent('c.b'), makeEvent('c.a')]);
      await publisher.close();
      const statuses = (await delivery.outcomes).map((o) => o.status);
      expect(statuses).to.deep.equal(['accepted', 'rejected', 'accepted', 'accepted']);
      const rejected = outcomes.find((o) => o.status === 'rejected');
      expect(rejected?.event).to.equal(bad);
      expect(rejected?.status === 'rejected' && rejected.error).to.include({ status: 422, code: 'validation_failed' });

      await stack.settle(5);
      const pages: StoredEvent[][] = [];
      for await (const page of client.pages({ topicPattern: 'c.*', limit: 2 })) pages.push(page);
      expect(pages.map((p) => p.length)).to.deep.equal([2, 2, 1]);
      const seqs = pages.flat().map((e) => e.seq);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
      const onlyB: StoredEvent[] = [];
      for await (const page of client.pages({ topic: 'c.b', after: seqs[0] })) onlyB.push(...page);
      expect(onlyB.map((e) => e.topic)).to.deep.equal(['c.b', 'c.b']);

      const refused = await (async () => {
        for await (const _ of client.pages({ topicPattern: 'c.>.x' })) return undefined;
      })().catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(ApiError);
      expect(refused).to.include({ status: 400, code: 'invalid_query' });
    }));
});
