import type { Stats, statsSchema } from '@aggregator/api';
import { identifier } from '@aggregator/common';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'chai';
import type { Response } from 'light-my-request';
import type { z } from 'zod';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { type InProcessStack, makeEvent, withStack } from './support/withStack.js';

type Json = Record<string, unknown>;

interface Operation {
  responses: Record<string, { description?: string; content?: Record<string, { schema: Json }> }>;
}

// The reply type the API declares and the schema the document is built from must stay one shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statsTypeMatchesSchema: Same<Stats, z.output<typeof statsSchema>> = true;

async function fetchDocument(stack: InProcessStack): Promise<Json> {
  const res = await stack.request({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).to.equal(200);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  return res.json() as Json;
}

/** Resolves a local `$ref` (`#/a/b`) in `doc`, or undefined. */
function resolvePointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) collectRefs(item, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else collectRefs(value, out);
    }
  }
  return out;
}

/**
 * A validator for one schema of the document, from ajv (JSON Schema draft 2020-12, what OpenAPI 3.1
 * uses): independent of zod, which generated the document.
 */
function validatorFor(doc: Json, schema: Json): { check(value: unknown): string | undefined } {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS with a default export on `.default`.
  (addFormatsModule as unknown as { default: (a: Ajv2020) => void }).default(ajv);
  const components = (doc.components as { schemas: Record<string, Json> }).schemas;
  for (const [name, component] of Object.entries(components)) ajv.addSchema(component, `#/components/schemas/${name}`);
  const validate = ajv.compile(schema);
  return {
    check(value) {
      return validate(value) ? undefined : ajv.errorsText(validate.errors);
    },
  };
}

function operation(doc: Json, method: string, path: string): Operation {
  const op = (doc.paths as Record<string, Record<string, Operation>>)[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`the document has no ${method} ${path}`);
  return op;
}

/** The schema the document gives for this reply (falling back to `default`); fails when there is none. */
function documentedSchema(doc: Json, method: string, path: string, status: number, mediaType: string): Json {
  const { responses } = operation(doc, method, path);
  const response = responses[String(status)] ?? responses.default;
  if (!response) throw new Error(`${method} ${path} answered ${status}, which the document does not list`);
  const content = response.content?.[mediaType];
  if (!content) {
    throw new Error(`${method} ${path} ${status}: the document has no ${mediaType} content, only
      ${Object.keys(response.content ?? {}).join(', ')}`);
  }
  return content.schema;
}

/** Asserts that a real reply matches what the document says for its path, method and status. */
function expectDocumented(doc: Json, method: string, path: string, res: Response): void {
  const mediaType = String(res.headers['content-type']).split(';')[0]?.trim() ?? '';
  const schema = documentedSchema(doc, method, path, res.statusCode, mediaType);
  expect(res.headers['x-request-id'], 'X-Request-Id').to.be.a('string');
  if (mediaType !== 'application/json') {
    expect(schema).to.deep.equal({ type: 'string' });
    return;
  }
  const problem = validatorFor(doc, schema).check(res.json());
  expect(problem, `${method} ${path} ${res.statusCode} does not match the document`).to.equal(undefined);
}

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('OpenAPI document', () => {
  before(requireTool(REDIS_SERVER));
  it('is a structurally valid OpenAPI 3.1 document whose references all resolve', () =>
    withStack({ workers: 0 }, async (stack) => {
      const doc = await fetchDocument(stack);
      expect(doc.openapi).to.match(/^3\.1\.\d+$/);
      expect(doc.info).to.include.keys('title', 'version');

      const paths = doc.paths as Record<string, Record<string, Operation & { operationId: string }>>;
      expect(Object.keys(paths)).to.have.members([
        '/publish',
        '/events',
        '/events/stream',
        '/topics',
        '/stats',
        '/healthz',
        '/readyz',
        '/openapi.json',
        '/',
        '/metrics',
      ]);
      const operationIds = new Set<string>();
      for (const [path, item] of Object.entries(paths)) {
        for (const [method, op] of Object.entries(item)) {
          const where = `${method.toUpperCase()} ${path}`;
          expect(['get', 'post'], where).to.include(method);
          expect(operationIds.has(op.operationId), `${where}: operationId used twice`).to.equal(false);
          operationIds.add(op.operationId);
          expect(Object.keys(op.responses), where).to.not.be.empty;
          for (const [status, response] of Object.entries(op.responses)) {
            expect(status, where).to.match(/^([1-5]\d\d|default)$/);
            expect(response.description, `${where} ${status} has no description`).to.be.a('string').and.not.empty;
          }
        }
      }

      const refs = collectRefs(doc);
      expect(refs).to.not.be.empty;
      for (const ref of refs) expect(resolvePointer(doc, ref), `unresolved $ref ${ref}`).to.not.equal(undefined);

      // Every schema must also be usable by a validator (this throws on what it cannot read).
      const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
      for (const [id, schema] of Object.entries(schemas)) {
        expect(() => validatorFor(doc, schema), id).to.not.throw();
        expect(schema, `${id} keeps a $schema or $id`).to.not.have.any.keys('$schema', '$id');
      }
    }));

  it('states the identifier rules as a pattern that agrees with the zod schema', () =>
    withStack({ workers: 0 }, async (stack) => {
      const doc = await fetchDocument(stack);
      const topic = (doc.components as { schemas: { Event: { properties: { topic: Json } } } }).schemas.Event.properties
        .topic;
      const fromDocument = validatorFor(doc, topic);
      const samples = ['orders', 'ünïcødé 😀', 'a b', 'x'.repeat(255), 'x'.repeat(256), '', ' ', '\t', '\u00a0\u2028'];
      samples.push('a\u0000b', 'line\nbreak', 'del\u007f', 'c1\u0085', 'nel\u009fx', ' padded ', '\u200b');
      for (const sample of samples) {
        expect(fromDocument.check(sample) === undefined, JSON.stringify(sample)).to.equal(
          identifier.safeParse(sample).success,
        );
      }
    }));

  it('documents the payload as an object and the error codes of each failure', () =>
    withStack({ workers: 0 }, async (stack) => {
      const doc = await fetchDocument(stack);
      const schemas = (doc.components as { schemas: Record<string, Json & { properties: Json }> }).schemas;
      expect(schemas.Event?.properties.payload).to.include({ type: 'object' });
      expect(schemas.StoredEvent?.properties.payload).to.include({ type: 'object' });
      const publish = operation(doc, 'POST', '/publish');
      expect(Object.keys(publish.responses)).to.include.members([
        '200',
        '400',
        '401',
        '413',
        '415',
        '422',
        '429',
        '503',
      ]);
      const events = operation(doc, 'GET', '/events') as Operation & { parameters: Array<{ name: string }> };
      expect(events.parameters.map((p) => p.name)).to.deep.equal(['topic', 'topic_pattern', 'after', 'limit']);
      expect(events.parameters[3]).to.deep.include({
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      });
      // A pattern is parsed into an object; the document shows what is sent, a string.
      expect(events.parameters[1]).to.deep.include({ required: false, schema: { type: 'string' } });
      const topics = operation(doc, 'GET', '/topics') as Operation & { parameters: Array<{ name: string }> };
      expect(topics.parameters.map((p) => p.name)).to.deep.equal(['topic_pattern', 'after', 'limit']);
      expect(Object.keys(topics.responses)).to.include.members(['200', '400', '401', '503']);
    }));

  it('rejects replies that differ from it (the check has teeth)', () =>
    withStack({ workers: 0 }, async (stack) => {
      const doc = await fetchDocument(stack);
      const stats = validatorFor(doc, documentedSchema(doc, 'GET', '/stats', 200, 'application/json'));
      const good = {
        received: 3,
        unique_processed: 2,
        duplicate_dropped: 1,
        topic_count: 1,
        topics: ['orders'],
        uptime_seconds: 5,
        queue: { waiting: 0, active: 0, delayed: 0, failed: 0 },
        partitions: [{ partition: 0, waiting: 0, active: 0, delayed: 0, failed: 0 }],
        workers: 1,
      } satisfies Stats;
      expect(stats.check(good) === undefined).to.equal(true);
      expect(stats.check({ ...good, received: -1 }) === undefined).to.equal(false);
      expect(stats.check({ ...good, queue: { waiting: 0 } })).to.be.a('string');
      expect(stats.check({ ...good, extra: 1 })).to.be.a('string');
      const invalid = validatorFor(doc, documentedSchema(doc, 'POST', '/publish', 422, 'application/json'));
      const envelope = {
        error: { code: 'validation_failed', message: 'm', details: [{ index: 0, path: '', message: 'x' }] },
      };
      expect(invalid.check(envelope)).to.equal(undefined);
      expect(invalid.check({ error: { ...envelope.error, code: 'malformed_json' } })).to.be.a('string');
      expect(invalid.check({ error: { ...envelope.error, details: [{ index: 'a' }] } })).to.be.a('string');
    }));

  describe('real replies match it', () => {
    it('POST /publish: 200, 400, 413 (body and batch), 415 and 422', () =>
      withStack({ workers: 0, env: { MAX_BODY_BYTES: '2048', MAX_BATCH: '3' } }, async (stack) => {
        const doc = await fetchDocument(stack);
        const post = (payload: string, headers: Record<string, string> = JSON_HEADERS) =>
          stack.request({ method: 'POST', url: '/publish', headers, payload });
        const replies = {
          200: await stack.publish([makeEvent(), makeEvent()]),
          400: await post('{"topic":'),
          413: await post(JSON.stringify(makeEvent({ payload: { big: 'x'.repeat(4096) } }))),
          '413 batch': await stack.publish([makeEvent(), makeEvent(), makeEvent(), makeEvent()]),
          415: await post(JSON.stringify(makeEvent()), { 'content-type': 'text/plain' }),
          422: await stack.publish([makeEvent(), { ...makeEvent(), topic: ' ', timestamp: 'soon' }]),
          '422 empty': await stack.publish([]),
        };
        for (const [label, res] of Object.entries(replies)) {
          expect(res.statusCode, `${label}: ${res.body}`).to.equal(Number.parseInt(label, 10));
          expectDocumented(doc, 'POST', '/publish', res);
        }
        expect(replies['413 batch'].json().error.code).to.equal('batch_too_large');
      }));

    it('GET /events (with a next page), its 400, /topics, /stats, /healthz and /readyz', () =>
      withStack({}, async (stack) => {
        const doc = await fetchDocument(stack);
        const duplicate = makeEvent({ topic: 'payments' });
        await stack.publish([makeEvent(), duplicate, duplicate, makeEvent({ payload: { nested: { a: [1, null] } } })]);
        await stack.settle(4);
        const get = (url: string) => stack.request({ method: 'GET', url });

        const page = await get('/events?limit=2');
        expect(page.statusCode).to.equal(200);
        expect(page.json()).to.have.length(2);
        expect(page.headers.link).to.match(/^<\/events\?after=\d+&limit=2>; rel="next"$/);
        expectDocumented(doc, 'GET', '/events', page);
        const last = await get('/events?topic=payments');
        expect(last.json()).to.have.length(1);
        expectDocumented(doc, 'GET', '/events', last);
        const ofPattern = await get('/events?topic_pattern=*&limit=1');
        expect(ofPattern.json()).to.have.length(1);
        expect(ofPattern.headers.link).to.match(/^<\/events\?topic_pattern=\*&after=\d+&limit=1>; rel="next"$/);
        expectDocumented(doc, 'GET', '/events', ofPattern);
        for (const url of [
          '/events?limit=0',
          '/events?after=-1',
          '/events?topic=a&topic=b',
          '/events?topic_pattern=a.%3E.b',
          '/events?topic=a&topic_pattern=a',
        ]) {
          const res = await get(url);
          expect(res.statusCode, url).to.equal(400);
          expectDocumented(doc, 'GET', '/events', res);
        }
        const topics = await get('/topics?limit=1');
        expect(topics.json()).to.have.length(1);
        expect(topics.headers.link).to.match(/^<\/topics\?after=[^&]+&limit=1>; rel="next"$/);
        expectDocumented(doc, 'GET', '/topics', topics);
        const ofPayments = await get('/topics?topic_pattern=payments');
        expect(ofPayments.json()).to.deep.equal([{ topic: 'payments', events: 1, last_seq: 2 }]);
        expectDocumented(doc, 'GET', '/topics', ofPayments);
        for (const url of ['/topics?limit=1001', '/topics?topic_pattern=a*', '/topics?after=']) {
          const res = await get(url);
          expect(res.statusCode, url).to.equal(400);
          expectDocumented(doc, 'GET', '/topics', res);
        }
        for (const url of ['/events/stream?after=x', '/events/stream?topic=a&topic_pattern=a']) {
          const res = await get(url);
          expect(res.statusCode, url).to.equal(400);
          expectDocumented(doc, 'GET', '/events/stream', res);
        }

        for (const path of ['/stats', '/healthz', '/readyz']) {
          const res = await get(path);
          expect(res.statusCode, path).to.equal(200);
          expectDocumented(doc, 'GET', path, res);
        }
        expect((await get('/stats')).json()).to.include({ received: 4, unique_processed: 3, duplicate_dropped: 1 });
      }));

    it('401 from /publish, /events, /events/stream, /topics and /stats when tokens are configured', () =>
      withStack({ workers: 0, env: { API_TOKEN: 'p'.repeat(16), READ_TOKEN: 'r'.repeat(16) } }, async (stack) => {
        const doc = await fetchDocument(stack);
        const publish = await stack.publish(makeEvent());
        expect(publish.statusCode).to.equal(401);
        expect(publish.headers['www-authenticate']).to.equal('Bearer');
        expectDocumented(doc, 'POST', '/publish', publish);
        for (const path of ['/events', '/events/stream', '/topics', '/stats']) {
          const res = await stack.request({ method: 'GET', url: path });
          expect(res.statusCode, path).to.equal(401);
          expectDocumented(doc, 'GET', path, res);
        }
      }));

    it('429 with Retry-After while the queue is over MAX_QUEUE_DEPTH', () =>
      withStack({ workers: 0, env: { MAX_QUEUE_DEPTH: '1' } }, async (stack) => {
        const doc = await fetchDocument(stack);
        const full = await waitUntil(
          async () => {
            const res = await stack.publish([makeEvent(), makeEvent()]);
            return res.statusCode === 429 && res;
          },
          { what: 'a 429 from /publish' },
        );
        expect(full.headers['retry-after']).to.match(/^\d+$/);
        expectDocumented(doc, 'POST', '/publish', full);
      }));

    it('GET /, /openapi.json, and the errors of routes and methods it does not list', () =>
      withStack({ workers: 0 }, async (stack) => {
        const doc = await fetchDocument(stack);
        const page = await stack.request({ method: 'GET', url: '/' });
        expect(page.statusCode).to.equal(200);
        expectDocumented(doc, 'GET', '/', page);
        const self = await stack.request({ method: 'GET', url: '/openapi.json' });
        expectDocumented(doc, 'GET', '/openapi.json', self);

        // A route or method the document lacks answers the generic envelope.
        const missing = await stack.request({ method: 'GET', url: '/no-such-route' });
        expect(missing.statusCode).to.equal(404);
        const anyError = validatorFor(doc, { $ref: '#/components/schemas/Error' });
        expect(anyError.check(missing.json())).to.equal(undefined);
        expect(missing.json().error.code).to.equal('not_found');
        const wrongMethod = await stack.request({ method: 'DELETE', url: '/stats' });
        expect(wrongMethod.statusCode).to.equal(405);
        expect(anyError.check(wrongMethod.json())).to.equal(undefined);
        expect(wrongMethod.json().error.code).to.equal('method_not_allowed');
        expect(wrongMethod.headers.allow, 'the methods /stats has').to.equal('HEAD, GET');
      }));
  });

  it('keeps the Stats type and its schema in step', () => {
    expect(statsTypeMatchesSchema).to.equal(true);
  });
});
