import { expect } from 'chai';
import { eventSchema, MAX_PAYLOAD_DEPTH } from './eventSchema.js';

const valid = {
  topic: 'orders',
  event_id: 'e-1',
  timestamp: '2025-01-31T12:00:00Z',
  source: 'shop',
  payload: { a: 1 },
};

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
