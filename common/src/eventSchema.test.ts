import { expect } from 'chai';
import { AppError, ValidationError } from './errors.js';
import { eventSchema, MAX_PAYLOAD_DEPTH, parsePublishBody } from './eventSchema.js';

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

describe('eventSchema', () => {
  it('accepts a valid event and keeps its fields', () => {
    expect(eventSchema.parse(valid)).to.deep.equal(valid);
  });

  it('defaults the payload to an empty object', () => {
    const { payload, ...rest } = valid;
    expect(eventSchema.parse(rest).payload).to.deep.equal({});
  });

  it('drops unknown top-level fields', () => {
    expect(eventSchema.parse({ ...valid, extra: 1, __proto__x: 2 })).to.deep.equal(valid);
  });

  for (const field of ['topic', 'event_id', 'source'] as const) {
    describe(field, () => {
      it('is required', () => {
        const { [field]: _, ...rest } = valid;
        expect(eventSchema.safeParse(rest).error?.issues[0]?.message).to.equal('is required');
      });
      it('rejects non-strings', () => {
        for (const v of [1, null, true, [], {}]) {
          expect(eventSchema.safeParse({ ...valid, [field]: v }).success, JSON.stringify(v)).to.equal(false);
        }
      });
      it('rejects empty and blank strings', () => {
        for (const v of ['', ' ', '\t ', '\u3000']) {
          expect(eventSchema.safeParse({ ...valid, [field]: v }).success, JSON.stringify(v)).to.equal(false);
        }
      });
      it('accepts 255 characters and rejects 256', () => {
        expect(eventSchema.safeParse({ ...valid, [field]: 'x'.repeat(255) }).success).to.equal(true);
        expect(eventSchema.safeParse({ ...valid, [field]: 'x'.repeat(256) }).success).to.equal(false);
      });
      it('rejects control characters and lone surrogates, accepts other unicode', () => {
        for (const v of ['a\u0000b', 'a\nb', 'a\u007fb', '\ud800', 'x\udc00y']) {
          expect(eventSchema.safeParse({ ...valid, [field]: v }).success, JSON.stringify(v)).to.equal(false);
        }
        for (const v of ['ünïcødé', '日本語', '😀', 'a b', 'a:b/c']) {
          expect(eventSchema.safeParse({ ...valid, [field]: v }).success, v).to.equal(true);
        }
      });
    });
  }

  describe('timestamp', () => {
    it('accepts RFC 3339 with Z or an offset, kept exactly as sent', () => {
      for (const t of [
        '2025-01-31T12:00:00Z',
        '2025-01-31T12:00:00.123456Z',
        '2025-01-31T12:00:00+05:30',
        '2025-01-31T12:00:00-08:00',
      ]) {
        expect(eventSchema.parse({ ...valid, timestamp: t }).timestamp).to.equal(t);
      }
    });
    it('rejects dates without a zone, impossible dates and other shapes', () => {
      for (const t of [
        '2025-01-31T12:00:00',
        '2025-01-31',
        '2025-02-30T00:00:00Z',
        '31/01/2025',
        'now',
        '',
        1738324800,
      ]) {
        expect(eventSchema.safeParse({ ...valid, timestamp: t }).success, String(t)).to.equal(false);
      }
    });
  });

  describe('payload', () => {
    it('must be a JSON object', () => {
      for (const p of [[], 'x', 1, true, null]) {
        expect(eventSchema.safeParse({ ...valid, payload: p }).success, JSON.stringify(p)).to.equal(false);
      }
    });
    it('keeps __proto__ and constructor keys as plain data, without touching prototypes', () => {
      const payload = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}');
      const parsed = eventSchema.parse({ ...valid, payload });
      expect(JSON.stringify(parsed.payload)).to.equal('{"__proto__":{"polluted":true},"constructor":{"prototype":1}}');
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
    it(`accepts nesting up to ${MAX_PAYLOAD_DEPTH} levels and rejects deeper`, () => {
      const nest = (depth: number) => JSON.parse(`${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`);
      expect(eventSchema.safeParse({ ...valid, payload: nest(MAX_PAYLOAD_DEPTH) }).success).to.equal(true);
      expect(eventSchema.safeParse({ ...valid, payload: nest(MAX_PAYLOAD_DEPTH + 1) }).success).to.equal(false);
      expect(eventSchema.safeParse({ ...valid, payload: nest(100_000) }).success).to.equal(false);
    });
  });
});

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
