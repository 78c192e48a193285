/**
 * Property-based tests with hostile and malformed input (fast-check, random seeds). A failure
 * message carries fast-check's report: the seed and path that replay it
 * (`fc.assert(..., { seed, path })`) and the shrunk counterexample.
 */
import querystring from 'node:querystring';
import type { Stats } from '@aggregator/api';
import { ERROR_CODES, eventsQuerySchema, storedEventSchema } from '@aggregator/api';
import { acceptEvent, eventSchema, identifier, isJsonObject, pairIdentity } from '@aggregator/common';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Response } from 'light-my-request';
import {
  cleanEventText,
  contentType,
  eventsUrl,
  eventText,
  MAX_BATCH,
  MAX_BODY_BYTES,
  NASTY_UNITS,
  nestedText,
  objectJsonText,
  percentEncode,
  publishBody,
} from './support/hostileInput.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { type InProcessStack, withStack } from './support/withStack.js';

const ENV = { MAX_BODY_BYTES: String(MAX_BODY_BYTES), MAX_BATCH: String(MAX_BATCH) };

/** The HTTP code each error code may come with. */
const STATUS_OF_CODE: Partial<Record<string, number>> = {
  malformed_json: 400,
  invalid_query: 400,
  payload_too_large: 413,
  batch_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
};

// ---------------------------------------------------------------------------------------------
// Oracles and checks.
// ---------------------------------------------------------------------------------------------

/** What the service should answer to `bytes` sent as JSON in UTF-8, from the README's rules. */
type Expected =
  | { status: 200; accepted: number; events: unknown[] }
  | { status: 400 | 413 | 422; code: string; events?: undefined };

function expectedReply(bytes: Buffer): Expected {
  if (bytes.length > MAX_BODY_BYTES) return { status: 413, code: 'payload_too_large' };
  // Decoded as the server decodes it: invalid UTF-8 becomes U+FFFD, a leading BOM is dropped.
  const text = bytes.toString('utf8').replace(/^\ufeff/, '');
  if (text.trim() === '') return { status: 400, code: 'malformed_json' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status: 400, code: 'malformed_json' };
  }
  let items: unknown[];
  if (Array.isArray(body)) items = body;
  else if (isJsonObject(body) && Array.isArray(body.events) && !('topic' in body)) items = body.events;
  else if (isJsonObject(body)) items = [body];
  else return { status: 422, code: 'validation_failed' };
  if (items.length === 0) return { status: 422, code: 'validation_failed' };
  if (items.length > MAX_BATCH) return { status: 413, code: 'batch_too_large' };
  if (!items.every((item) => eventSchema.safeParse(item).success)) return { status: 422, code: 'validation_failed' };
  return { status: 200, accepted: items.length, events: items };
}

/** The documented error envelope, with a code from ERROR_CODES and nothing of the internals. */
function expectErrorReply(res: Response, context: string): string {
  expect(res.headers['content-type'], context).to.match(/^application\/json/);
  const body = res.json() as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  expect(body, context).to.be.an('object').with.all.keys('error');
  const error = body.error as { code: unknown; message: unknown };
  expect(error, context).to.be.an('object');
  expect(
    Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k)),
    context,
  ).to.equal(true);
  expect(ERROR_CODES as readonly unknown[], context).to.include(error.code);
  expect(error.message, context).to.be.a('string');
  // No stack frame and no path of ours. (Messages may quote the input, e.g. JSON.parse's, so
  // only a frame's shape, `\n    at f (file:1:2)`, counts; in `details` it is JSON-escaped.)
  expect(error.message, context).to.not.match(/\n\s+at \S.*:\d+/);
  expect(JSON.stringify(body.error?.details ?? null), context).to.not.match(/\\n\s+at \S.*:\d+/);
  expect(res.body, context).to.not.include(process.cwd());
  const status = STATUS_OF_CODE[error.code as string];
  if (status !== undefined) expect(res.statusCode, context).to.equal(status);
  return error.code as string;
}

/** Pages through GET /events from `url`, following `Link: rel="next"`. */
async function listAll(stack: InProcessStack, url: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  let next: string | undefined = url;
  while (next) {
    const res = await stack.request({ method: 'GET', url: next });
    expect(res.statusCode, next).to.equal(200);
    rows.push(...(res.json() as Array<Record<string, unknown>>));
    next = /<([^>]+)>; rel="next"/.exec(String(res.headers.link ?? ''))?.[1];
  }
  return rows;
}

function expectPrototypesClean(): void {
  expect(Object.getPrototypeOf({})).to.equal(Object.prototype);
  expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  expect(Object.keys(Object.prototype)).to.deep.equal([]);
  expect(Object.keys(Array.prototype)).to.deep.equal([]);
}

/** A well-formed string's code points (so that splitting never makes a lone surrogate). */
const codePoints = (s: string) => [...s];

// ---------------------------------------------------------------------------------------------

describe('hostile and malformed input (property-based)', () => {
  before(requireTool(REDIS_SERVER));
  const rejections: unknown[] = [];
  const recordRejection = (reason: unknown) => {
    rejections.push(reason);
  };
  before(() => {
    process.on('unhandledRejection', recordRejection);
  });
  after(() => {
    process.off('unhandledRejection', recordRejection);
  });
  const expectNoRejections = () =>
    expect(
      rejections.map((r) => String(r)),
      'unhandled promise rejections',
    ).to.deep.equal([]);
  afterEach(() => {
    const seen = rejections.splice(0).map((r) => String(r));
    expect(seen, 'unhandled promise rejections').to.deep.equal([]);
  });

  it('answers every hostile body and query with a documented reply, never a 5xx, and stores only valid events', function () {
    this.timeout(120_000);
    return withStack({ env: ENV }, async (stack) => {
      let accepted = 0;

      await fc.assert(
        fc.asyncProperty(
          publishBody,
          contentType,
          // Usually no Content-Length of our own (light-my-request sets the true one); sometimes a lie.
          fc.oneof(
            { weight: 19, arbitrary: fc.constant(null) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * MAX_BODY_BYTES }) },
          ),
          async (body, type, declaredLength) => {
            const bytes = typeof body === 'string' ? Buffer.from(body) : body;
            const headers: Record<string, string> = {};
            if (type.value !== undefined) headers['content-type'] = type.value;
            if (declaredLength !== null) headers['content-length'] = String(declaredLength);
            const res = await stack.request({ method: 'POST', url: '/publish', headers, payload: bytes });
            const context = `${res.statusCode} ${res.body.slice(0, 500)}`;
            expect(res.statusCode, context).to.be.below(500);

            const lengthLies = declaredLength !== null && declaredLength !== bytes.length;
            const expected = expectedReply(bytes);
            if (res.statusCode === 200) {
              expect(type.ok, context).to.not.equal(false);
              expect(lengthLies, context).to.equal(false);
              if (expected.status !== 200) expect.fail(`200 where ${expected.code} was expected: ${context}`);
              expect(res.json(), context).to.deep.equal({ accepted: expected.accepted });
              accepted += expected.accepted;
            } else {
              const code = expectErrorReply(res, context);
              if (type.ok === true && !lengthLies) {
                expect({ status: res.statusCode, code }, context).to.deep.include(expected);
              }
              if (type.ok === false) expect(code, context).to.equal('unsupported_media_type');
            }
            expectNoRejections();
          },
        ),
        { numRuns: 2000 },
      );

      await fc.assert(
        fc.asyncProperty(eventsUrl, async (url) => {
          const res = await stack.request({ method: 'GET', url });
          const context = `${url} → ${res.statusCode} ${res.body.slice(0, 300)}`;
          // What Koa parses from the URL as light-my-request (like a real server) receives it.
          const query = querystring.parse(new URL(url, 'http://localhost').search.slice(1));
          const parsed = eventsQuerySchema.safeParse(query);
          if (parsed.success) {
            expect(res.statusCode, context).to.equal(200);
            const rows = res.json() as unknown[];
            expect(rows, context).to.be.an('array').with.length.at.most(parsed.data.limit);
            for (const row of rows) {
              expect(storedEventSchema.safeParse(row).success, context).to.equal(true);
              if (parsed.data.topic !== undefined) expect(row, context).to.include({ topic: parsed.data.topic });
              expect((row as { seq: number }).seq, context).to.be.above(parsed.data.after);
            }
          } else {
            expect(res.statusCode, context).to.equal(400);
            expect(expectErrorReply(res, context), context).to.equal('invalid_query');
          }
          expectNoRejections();
        }),
        { numRuns: 800 },
      );

      // Never stores an invalid event: everything accepted is processed, and every row is valid.
      expect(accepted, 'the fuzzing should get some events accepted').to.be.above(100);
      const stats: Stats = await stack.settle(accepted);
      expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
      const rows = await listAll(stack, '/events?limit=1000');
      expect(rows).to.have.length(stats.unique_processed);
      for (const row of rows) {
        const context = JSON.stringify(row).slice(0, 500);
        expect(eventSchema.safeParse(row).success, context).to.equal(true);
        expect(storedEventSchema.safeParse(row).success, context).to.equal(true);
        expect(isJsonObject(row.payload), context).to.equal(true);
      }
      expect(stats.queue.failed).to.equal(0);
      expectPrototypesClean();
    });
  });

  it('accepts an event on the fast path exactly when the schema does, with the same result', () => {
    fc.assert(
      fc.property(fc.oneof(eventText, cleanEventText), (text) => {
        const value: unknown = JSON.parse(text);
        const fast = acceptEvent(value);
        const schema = eventSchema.safeParse(value);
        expect(fast !== undefined, `fast path vs schema on ${text}`).to.equal(schema.success);
        if (fast) expect(fast).to.deep.equal(schema.data);
      }),
      { numRuns: 5000 },
    );
  });

  it('survives JSON nested a million levels deep at the default 5 MiB body limit', function () {
    // The properties above run with a 64 KiB limit; this is the same hazard at full size, where a
    // recursive parser, validator or serialiser would overflow the stack and answer 500.
    this.timeout(30_000);
    return withStack({ workers: 0 }, async (stack) => {
      const deep = (open: string, close: string, n: number) => `${open.repeat(n)}1${close.repeat(n)}`;
      const event = (extra: string) =>
        `{"topic":"deep","event_id":"deep","timestamp":"2025-01-31T12:00:00Z","source":"s",${extra}}`;
      const cases: Array<[string, number]> = [
        [deep('[', ']', 2_400_000), 422],
        [event(`"payload":${deep('{"a":', '}', 800_000)}`), 422],
        // An unknown field is dropped, however deep: the event itself is valid.
        [event(`"extra":${deep('{"a":', '}', 800_000)}`), 200],
      ];
      for (const [payload, status] of cases) {
        const res = await stack.request({
          method: 'POST',
          url: '/publish',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, res.body).to.equal(status);
        if (status !== 200) expectErrorReply(res, res.body);
      }
    });
  });

  describe('two different pairs never collide', () => {
    /** Characters that naive key encodings confuse: separators, escapes, lookalikes, prefixes. */
    const TINY = [':', '|', '0', '1', '\\', '"', 'é', 'e\u0301', 'e', 'E', '😀', 'a', ' ', '\u200f', '%', '/'];
    const tiny = fc.string({ unit: fc.constantFrom(...TINY), minLength: 0, maxLength: 5 });
    const extra = fc.constantFrom(...TINY);

    /** Pairs plus their neighbours: shifted boundary, one char more or less, same id other topic. */
    const neighbours = ([topic, id]: [string, string], c: string): Array<[string, string]> => {
      const t = codePoints(topic);
      const e = codePoints(id);
      const out: Array<[string, string]> = [
        [topic, id],
        [topic + c, id],
        [topic, id + c],
        [topic + c, c + id],
        [c + topic, id],
      ];
      if (e.length > 1) out.push([topic + e[0], e.slice(1).join('')]);
      if (t.length > 1) out.push([t.slice(0, -1).join(''), (t.at(-1) as string) + id]);
      if (t.length > 1) out.push([t.slice(0, -1).join(''), id]);
      if (e.length > 1) out.push([topic, e.slice(0, -1).join('')]);
      return out;
    };

    it('builds distinct pair identities (strings and UTF-8 bytes) for distinct pairs', () => {
      const wellFormed = fc.oneof(
        tiny,
        fc.string({ unit: 'binary', maxLength: 6 }),
        fc.string({ unit: 'grapheme', maxLength: 4 }),
        fc.string({ unit: 'grapheme-composite', maxLength: 4 }),
      );
      const pair = fc.tuple(wellFormed, wellFormed);
      // The second pair is usually a near neighbour of the first: the likeliest collision.
      const twoPairs = fc.oneof(
        fc.tuple(pair, pair),
        fc.tuple(pair, extra, fc.nat()).map(([p, c, i]) => {
          const near = neighbours(p, c);
          return [p, near[i % near.length] as [string, string]] as const;
        }),
      );
      fc.assert(
        fc.property(twoPairs, ([[t1, e1], [t2, e2]]) => {
          const k1 = pairIdentity(t1, e1);
          const k2 = pairIdentity(t2, e2);
          const same = t1 === t2 && e1 === e2;
          expect(k1 === k2, `${JSON.stringify([t1, e1])} vs ${JSON.stringify([t2, e2])}`).to.equal(same);
          expect(Buffer.from(k1).equals(Buffer.from(k2))).to.equal(same);
        }),
        { numRuns: 5000 },
      );
      // Any strings at all, lone surrogates included, still give distinct JS strings.
      const anyString = fc.string({ unit: fc.oneof(fc.constantFrom(...NASTY_UNITS), extra), maxLength: 6 });
      fc.assert(
        fc.property(fc.tuple(anyString, anyString), fc.tuple(anyString, anyString), ([t1, e1], [t2, e2]) => {
          expect(pairIdentity(t1, e1) === pairIdentity(t2, e2)).to.equal(t1 === t2 && e1 === e2);
        }),
        { numRuns: 3000 },
      );
    });

    it('stores each distinct (topic, event_id) pair once, with its exact strings, and drops only copies', function () {
      this.timeout(60_000);
      return withStack({}, async (stack) => {
        let run = 0;
        let received = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.tuple(tiny, tiny), extra), { minLength: 1, maxLength: 15 }),
            fc.array(fc.nat(), { maxLength: 30 }),
            fc.array(fc.nat(), { maxLength: 200 }),
            fc.integer({ min: 1, max: 4 }),
            async (seeds, copyPicks, order, chunks) => {
              // A namespace per run keeps runs (and fast-check's shrinking replays) independent.
              const ns = `r${run++}~`;
              const before = await stack.stats();
              const distinct = new Map<string, [string, string]>();
              for (const [p, c] of seeds) {
                for (const [t, e] of neighbours(p, c)) {
                  const topic = ns + t;
                  if (!identifier.safeParse(topic).success || !identifier.safeParse(e).success) continue;
                  distinct.set(JSON.stringify([topic, e]), [topic, e]);
                }
              }
              const pairs = [...distinct.values()];
              const copies =
                pairs.length === 0 ? [] : copyPicks.map((i) => pairs[i % pairs.length] as [string, string]);
              const all = [...pairs, ...copies];
              // Shuffle with the generated sort keys, so copies may come first.
              const shuffled = all
                .map((p, i) => ({ p, key: order[i % Math.max(order.length, 1)] ?? i }))
                .sort((a, b) => a.key - b.key)
                .map(({ p }) => p);
              if (shuffled.length === 0) return;
              const events = shuffled.map(([topic, event_id]) => ({
                topic,
                event_id,
                timestamp: '2025-01-31T12:00:00Z',
                source: 'collide',
              }));
              // Several requests, each processed before the next: a key collision in the Redis fast
              // path would then make a later pair skip the store as if it were a committed duplicate.
              const size = Math.ceil(events.length / chunks);
              let after: Stats = before;
              for (let i = 0; i < events.length; i += size) {
                const res = await stack.publish(events.slice(i, i + size));
                expect(res.statusCode, res.body).to.equal(200);
                received += res.json().accepted;
                after = await stack.settle(received);
              }
              const context = `pairs ${JSON.stringify(pairs)}; copies ${copies.length}`;
              expect(after.unique_processed - before.unique_processed, context).to.equal(pairs.length);
              expect(after.duplicate_dropped - before.duplicate_dropped, context).to.equal(copies.length);

              const expected = [...distinct.keys()].sort();
              const listed = (rows: Array<Record<string, unknown>>) =>
                rows.map((r) => JSON.stringify([r.topic, r.event_id])).sort();
              // Everything stored by this run, each pair once, with its exact strings.
              const last = await listAll(stack, `/events?after=${before.unique_processed}&limit=1000`);
              expect(listed(last), context).to.deep.equal(expected);
              // And by topic: the topic filter must not confuse lookalike topics either.
              for (const topic of new Set(pairs.map(([topic]) => topic))) {
                const rows = await listAll(stack, `/events?topic=${percentEncode(topic)}&limit=1000`);
                expect(listed(rows), context).to.deep.equal(expected.filter((k) => JSON.parse(k)[0] === topic));
              }
              expectNoRejections();
            },
          ),
          { numRuns: 60 },
        );
      });
    });
  });

  it('returns payloads JSON-equivalent to what was sent, and never pollutes a prototype', function () {
    this.timeout(60_000);
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
    // Top-level objects only (a payload must be an object), with the depth limit's boundary too.
    const topPayload = fc.oneof(
      { weight: 8, arbitrary: objectJsonText },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.integer({ min: 62, max: 66 }),
            fc.constantFrom('object', 'mixed') as fc.Arbitrary<'object' | 'mixed'>,
          )
          .map(([depth, kind]) => nestedText(depth, kind)),
      },
    );
    return withStack({}, async (stack) => {
      let run = 0;
      let received = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(topPayload, { minLength: 1, maxLength: 8 }), async (payloads) => {
          const topic = `round-trip-${run++}`;
          const sent = new Map<string, string>();
          for (const [i, payload] of payloads.entries()) {
            const text = `{"topic":"${topic}","event_id":"p${i}","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":${payload}}`;
            const res = await stack.request({
              method: 'POST',
              url: '/publish',
              headers: { 'content-type': 'application/json' },
              payload: text,
            });
            const valid = eventSchema.safeParse(JSON.parse(text)).success;
            expect(res.statusCode, `${payload} → ${res.body}`).to.equal(valid ? 200 : 422);
            if (valid) sent.set(`p${i}`, text);
          }
          received += sent.size;
          await stack.settle(received);
          const rows = await listAll(stack, `/events?topic=${topic}`);
          expect(rows.map((r) => r.event_id).sort()).to.deep.equal([...sent.keys()].sort());
          for (const row of rows) {
            const text = sent.get(row.event_id as string) as string;
            const original = (JSON.parse(text) as { payload: unknown }).payload;
            // The store keeps JSON.stringify's text of the parsed payload. JSON.parse keeps -0 but
            // JSON.stringify writes it as 0 (JSON numbers have no negative zero of their own), so
            // -0 comes back as 0; every other value must come back deep-equal to JSON.parse's.
            // (A reviver, unlike assignment, keeps `__proto__` keys as data.)
            const expected = (JSON.parse(text, (_key, v) => (Object.is(v, -0) ? 0 : v)) as { payload: unknown })
              .payload;
            const context = `sent ${text}`;
            expect(row.payload, context).to.deep.equal(expected);
            expect(JSON.stringify(row.payload), context).to.equal(JSON.stringify(original));
          }
          expectPrototypesClean();
          expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(prototypeNames);
          expectNoRejections();
        }),
        { numRuns: 120 },
      );
    });
  });
});
