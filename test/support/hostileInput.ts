/**
 * fast-check generators of hostile input for the HTTP API (test/hostile.test.ts). Bodies are built
 * as JSON *text*, so that they can hold what JS values cannot: own `__proto__` keys, duplicate
 * keys, lone surrogates as `\ud800` escapes, numbers beyond a double's range.
 */
import { identifier } from '@aggregator/common';
import fc from 'fast-check';

/** The limits the generators aim at; the stack under test must be configured with them. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_BATCH = 20;

/** Characters that break naive code: controls, lone surrogates, bidi marks, combining marks, emoji. */
export const NASTY_UNITS = [
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u009f',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\u200f',
  '\u202e',
  '\u2028',
  '\ufeff',
  '\uffff',
  '😀',
  '👩‍👩‍👧',
  'é',
  'e\u0301',
  ' ',
  '\t',
  '\n',
  '"',
  '\\',
  '/',
  ':',
  '|',
  '%',
  '&',
  '=',
  '__proto__',
];
const nastyString = fc.string({
  unit: fc.oneof(fc.constantFrom(...NASTY_UNITS), fc.constantFrom('a', 'b', '1')),
  maxLength: 12,
});
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'];

/** JSON text of a string; JSON.stringify writes lone surrogates as `\udxxx` escapes. */
const str = (s: string) => JSON.stringify(s);
const objectText = (entries: ReadonlyArray<readonly [string, string]>) =>
  `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(',')}}`;

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom(
    '-0',
    '0',
    '-0.0',
    '0e0',
    '1e308',
    '-1e308',
    '1.7976931348623157e308',
    '1.7976931348623159e308',
    '1e400',
    '-1e400',
    '1e-400',
    '5e-324',
    '12345678901234567890',
    '9007199254740993',
    '0.1',
    '1E+2',
    '1e-7',
  ),
);
const stringText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map(str) },
  { weight: 3, arbitrary: nastyString.map(str) },
  { weight: 1, arbitrary: fc.constantFrom('"\\ud83d\\ude00"', '"\\ud800\\ud800"', '"\\u0000"', '"\\/"', '""') },
);
const keyArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_KEYS, 'polluted', '', '0', '1', '01', '-1', '4294967295') },
  { weight: 1, arbitrary: nastyString },
);

/** Any JSON value as text (shallow), with nasty keys and numbers JSON.parse cannot keep exactly. */
export const { jsonText, objectJsonText } = fc.letrec<{
  jsonText: string;
  arrayJsonText: string;
  objectJsonText: string;
}>((tie) => ({
  jsonText: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    tie('arrayJsonText'),
    tie('objectJsonText'),
  ),
  arrayJsonText: fc.array(tie('jsonText'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  objectJsonText: fc.array(fc.tuple(keyArb, tie('jsonText')), { maxLength: 5 }).map(objectText),
}));

/** A chain of `depth` nested objects and arrays: depth 64 is the most a payload may have. */
export const nestedText = (depth: number, kind: 'object' | 'array' | 'mixed') => {
  let open = '';
  let close = '';
  for (let i = 1; i < depth; i++) {
    const array = kind === 'array' || (kind === 'mixed' && i % 2 === 0);
    open += array ? '[' : '{"a":';
    close = (array ? ']' : '}') + close;
  }
  return `${open}${kind === 'array' ? '[]' : '{}'}${close}`;
};
const deepText = fc
  .tuple(
    fc.oneof(fc.integer({ min: 60, max: 70 }), fc.integer({ min: 1, max: 9000 })),
    fc.constantFrom('object', 'array', 'mixed') as fc.Arbitrary<'object' | 'array' | 'mixed'>,
  )
  .map(([depth, kind]) => nestedText(depth, kind));

const validIdentifier = fc.oneof(
  fc.stringMatching(/^[a-z0-9._-]{1,10}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => identifier.safeParse(s).success),
);
const validTimestamp = fc.oneof(
  fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom('2025-01-31T12:00:00Z', '2025-01-31T12:00:00+05:30', '2025-01-31T12:00:00.123-08:00'),
);
/** Values of the wrong type or the wrong content for any field. */
const hostileValueText = fc.oneof(
  nastyString.map(str),
  fc.integer({ min: 250, max: 260 }).map((n) => str('x'.repeat(n))),
  fc.integer({ min: 120, max: 130 }).map((n) => str('😀'.repeat(n))),
  numberText,
  fc.constantFrom('true', 'null', '[]', '{}', '["a"]', '{"__proto__":"x"}', '""', '" "', '"\\u00a0"'),
  fc.constantFrom('"2025-13-01T00:00:00Z"', '"2025-01-31"', '"2025-01-31T12:00:00"', '1738324800', '"soon"'),
  jsonText,
);
/** A field: usually valid, sometimes hostile, sometimes missing (undefined). */
const field = (valid: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 14, arbitrary: valid },
    { weight: 2, arbitrary: hostileValueText },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
const payloadText = fc.oneof(
  { weight: 8, arbitrary: objectJsonText },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: hostileValueText },
);
const extraEntries = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom(...PROTO_KEYS, 'events', 'topic', 'payload', 'seq', ''), keyArb), jsonText),
  { maxLength: 3 },
);

/** One event as JSON text, with extra (and maybe repeated) keys before or after its fields. */
const eventTextOf = (
  fieldOf: (valid: fc.Arbitrary<string>) => fc.Arbitrary<string | undefined>,
  payload: fc.Arbitrary<string | null>,
  extras: fc.Arbitrary<Array<[string, string]>>,
) =>
  fc
    .tuple(
      fieldOf(validIdentifier.map(str)),
      fieldOf(fc.oneof(validIdentifier, fc.uuid()).map(str)),
      fieldOf(validTimestamp.map(str)),
      fieldOf(validIdentifier.map(str)),
      payload,
      extras,
      fc.boolean(),
    )
    .map(([topic, eventId, timestamp, source, payload, extras, extrasFirst]) => {
      const fields: Array<[string, string | null | undefined]> = [
        ['topic', topic],
        ['event_id', eventId],
        ['timestamp', timestamp],
        ['source', source],
        ['payload', payload],
      ];
      const own = fields.filter((f): f is [string, string] => typeof f[1] === 'string');
      return objectText(extrasFirst ? [...extras, ...own] : [...own, ...extras]);
    });
/** Fields mostly valid, sometimes hostile or missing; extra keys may repeat a field's. */
export const eventText = eventTextOf(field, fc.option(payloadText, { freq: 4 }), extraEntries);
/** Every field valid, extra keys that never repeat one: batches of these are mostly accepted. */
export const cleanEventText = eventTextOf(
  (valid) => valid,
  fc.option(objectJsonText, { freq: 4 }),
  fc.array(fc.tuple(fc.constantFrom(...PROTO_KEYS, 'seq', 'extra'), jsonText), { maxLength: 2 }),
);

const smallValidEvent = (i: number) =>
  `{"topic":"t","event_id":"giant-${i}","timestamp":"2025-01-31T12:00:00Z","source":"s"}`;

/** Bodies near MAX_BODY_BYTES: a few bytes under, at, and over, in one- and two-byte characters. */
const nearLimitBody = fc.tuple(fc.integer({ min: -2, max: 2 }), fc.constantFrom('x', 'é')).map(([delta, fill]) => {
  const head = '{"topic":"big","event_id":"big","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{"blob":"';
  const tail = '"}}';
  const room = MAX_BODY_BYTES + delta - Buffer.byteLength(head + tail);
  return head + fill.repeat(Math.floor(room / Buffer.byteLength(fill))) + tail;
});

const wrapped = fc
  .tuple(fc.array(eventText, { maxLength: MAX_BATCH + 3 }), extraEntries)
  .map(([events, extras]) => objectText([['events', `[${events.join(',')}]`], ...extras]));
const batchText = fc.array(eventText, { maxLength: MAX_BATCH + 3 }).map((events) => `[${events.join(',')}]`);
const validishBody = fc.oneof(eventText, batchText, wrapped);

/** Every kind of publish body, as text or raw bytes. */
export const publishBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 5, arbitrary: eventText },
  { weight: 5, arbitrary: batchText },
  {
    weight: 3,
    arbitrary: fc
      .array(cleanEventText, { minLength: 1, maxLength: MAX_BATCH })
      .map((events) => `[${events.join(',')}]`),
  },
  { weight: 3, arbitrary: wrapped },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_BATCH + 1, max: 3 * MAX_BATCH })
      .map((n) => `[${Array.from({ length: n }, (_, i) => smallValidEvent(i)).join(',')}]`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validishBody, fc.nat())
      .map(([text, cut]) => text.slice(0, text.length > 0 ? cut % text.length : 0)),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: jsonText },
  { weight: 1, arbitrary: deepText },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 9000 }), fc.constantFrom('[', '{"a":', '{', '"'))
      .map(([n, open]) => open.repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(deepText, fc.constantFrom('payload', 'extra', 'events'))
      .map(([deep, where]) =>
        where === 'events'
          ? `{"events":[${deep}]}`
          : `{"topic":"d","event_id":"d","timestamp":"2025-01-31T12:00:00Z","source":"s","${where}":${deep}}`,
      ),
  },
  { weight: 1, arbitrary: nearLimitBody },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\n',
      'null',
      '[]',
      '{}',
      '{"events":[]}',
      '{"events":null}',
      '{"events":{}}',
      '\ufeff{}',
      'undefined',
      'NaN',
      '[1,]',
      '{"a":1,}',
      "{'a':1}",
      '"\\ud800"',
      '{"__proto__":{"events":[]}}',
      '{"__proto__":[]}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      `{"__proto__":{"polluted":1},"topic":"p","event_id":"p","timestamp":"2025-01-31T12:00:00Z","source":"s"}`,
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(eventText, fc.nat(), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]))
      .map(([text, at, bad]) => {
        const bytes = Buffer.from(text);
        const cut = bytes.length > 0 ? at % bytes.length : 0;
        return Buffer.concat([bytes.subarray(0, cut), Buffer.from(bad), bytes.subarray(cut)]);
      }),
  },
);

/** A Content-Type header: `ok` says whether the service must take it (undefined: no opinion). */
export interface ContentType {
  value: string | undefined;
  ok: boolean | undefined;
}
export const contentType: fc.Arbitrary<ContentType> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({ value: 'application/json', ok: true }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'application/json; charset=utf-8',
        'application/json;charset=UTF-8',
        'application/json; charset=utf8',
        'Application/JSON',
        'application/cloudevents+json',
        'application/vnd.events.v1+json; charset=utf-8',
      )
      .map((value) => ({ value, ok: true })),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        undefined,
        '',
        'text/plain',
        'text/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/json; charset=utf-16le',
        'application/jsonx',
        'application/+json',
        'json',
        '*/*',
      )
      .map((value) => ({ value, ok: false })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
        fc.constantFrom(
          'application/json;;',
          'application/json; charset',
          'application/json; charset="utf-8"',
          'application/json ; charset=utf-8',
          'application/json, text/plain',
          'application/json; charset=utf-8; charset=latin1',
        ),
      )
      .map((value) => ({ value, ok: undefined })),
  },
);

/** `s` percent-encoded byte by byte; a lone surrogate as its (invalid) three UTF-8-style bytes. */
export function percentEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const unit = ch.codePointAt(0) as number;
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

const queryName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('topic', 'after', 'limit') },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS, 'topic[]', 'topic[0]', 'Topic', 'LIMIT', '') },
  { weight: 1, arbitrary: nastyString },
);
const queryValue = fc.oneof(
  fc.nat({ max: 2000 }).map(String),
  fc.constantFrom(
    '0',
    '1',
    '1000',
    '1001',
    '-1',
    '-0',
    '1.5',
    '1e3',
    '0x10',
    ' 1',
    '1 ',
    '+1',
    '00001',
    '999999999999999',
    '9999999999999999',
    '1'.repeat(400),
    'NaN',
    'Infinity',
    '',
    'null',
    '[]',
    'orders',
    't',
    'big',
  ),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.double().map(String),
  validIdentifier,
  nastyString,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 250, max: 300 }).map((n) => 'q'.repeat(n)),
);
const queryParam = fc
  .tuple(queryName, queryValue, fc.constantFrom('encoded', 'encoded', 'raw', 'no-value', 'broken-escape'))
  .map(([name, value, mode]) => {
    if (mode === 'raw') return `${name}=${value}`;
    if (mode === 'no-value') return percentEncode(name);
    if (mode === 'broken-escape')
      return `${percentEncode(name)}=${percentEncode(value)}%${value.length % 2 ? 'zz' : 'E2%82'}`;
    return `${percentEncode(name)}=${percentEncode(value)}`;
  });
export const eventsUrl = fc
  .tuple(fc.array(queryParam, { maxLength: 5 }), fc.constantFrom('&', '&&', ';'))
  .map(([params, sep]) => `/events?${params.join(sep)}`);
