import { createRequire } from 'node:module';
import { eventSchema, identifier, MAX_PAYLOAD_DEPTH } from '@aggregator/common';
import { z } from 'zod';
import {
  anyErrorReplySchema,
  errorReplySchema,
  eventsQuerySchema,
  healthReplySchema,
  publishBodySchema,
  publishReplySchema,
  queryIssueSchema,
  readinessChecksSchema,
  readyReplySchema,
  statsSchema,
  storedEventSchema,
  streamQuerySchema,
  topicStatsSchema,
  topicsQuerySchema,
  validationIssueSchema,
} from '../apiSchemas.js';

type JsonSchema = Record<string, unknown>;
type Registry = z.core.$ZodRegistry<{ id: string }>;

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * What `identifier`'s refinements (not blank, no control characters) say, as a JSON Schema pattern
 * (ECMA-262): at least one non-whitespace character, no C0/C1 control character. Lone surrogates
 * cannot be expressed; the description names them.
 */
const IDENTIFIER_PATTERN = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001f\\u007f-\\u009f]*$';

/**
 * Fills in what zod cannot translate by itself: the payload is a `z.custom` (unrepresentable), and
 * the identifier rules are refinements.
 */
function override(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  if (ctx.zodSchema._zod.def.type === 'custom') {
    ctx.jsonSchema.type = 'object';
    ctx.jsonSchema.description = `any JSON object, nested at most ${MAX_PAYLOAD_DEPTH} levels; returned as sent`;
  } else if ((ctx.zodSchema as unknown) === identifier) {
    Object.assign(ctx.jsonSchema, {
      minLength: 1,
      pattern: IDENTIFIER_PATTERN,
      description: '1–255 characters, not blank, no control characters, well-formed Unicode (no lone surrogates)',
    });
  }
}

/** Converts every schema of `registry` into named component schemas that `$ref` each other. */
function componentSchemas(registry: Registry, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    override,
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // The document's dialect is 2020-12 already; an `$id` holding a fragment is not a valid id.
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  return out;
}

/** JSON Schema of one value, inline (for parameters). */
function inlineSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', override }) as JsonSchema;
  return rest;
}

/** The error replies of the document, each narrowed to the codes its status may carry. */
const ERROR_SCHEMAS = {
  Error: anyErrorReplySchema,
  MalformedJsonError: errorReplySchema(['malformed_json']),
  UnauthorizedError: errorReplySchema(['unauthorized']),
  PayloadTooLargeError: errorReplySchema(['payload_too_large', 'batch_too_large']),
  UnsupportedMediaTypeError: errorReplySchema(['unsupported_media_type']),
  ValidationFailedError: errorReplySchema(['validation_failed'], z.array(validationIssueSchema)),
  QueueFullError: errorReplySchema(['queue_full']),
  RedisUnavailableError: errorReplySchema(['redis_unavailable']),
  InvalidQueryError: errorReplySchema(['invalid_query'], z.array(queryIssueSchema)),
  StoreUnavailableError: errorReplySchema(['store_unavailable']),
  UnavailableError: errorReplySchema(['redis_unavailable', 'store_unavailable']),
  StreamUnavailableError: errorReplySchema(['store_unavailable', 'too_many_streams', 'shutting_down']),
  NotReadyError: z.union([errorReplySchema(['not_ready'], readinessChecksSchema), errorReplySchema(['shutting_down'])]),
} as const;

type ErrorSchemaId = keyof typeof ERROR_SCHEMAS;

function requestRegistry(): Registry {
  const registry: Registry = z.registry<{ id: string }>();
  registry.add(eventSchema, { id: 'Event' });
  registry.add(publishBodySchema, { id: 'PublishBody' });
  return registry;
}

function responseRegistry(): Registry {
  const registry: Registry = z.registry<{ id: string }>();
  registry.add(publishReplySchema, { id: 'PublishReply' });
  registry.add(storedEventSchema, { id: 'StoredEvent' });
  registry.add(topicStatsSchema, { id: 'TopicStats' });
  registry.add(statsSchema, { id: 'Stats' });
  registry.add(healthReplySchema, { id: 'Health' });
  registry.add(readyReplySchema, { id: 'Ready' });
  registry.add(readinessChecksSchema, { id: 'ReadinessChecks' });
  registry.add(validationIssueSchema, { id: 'ValidationIssue' });
  registry.add(queryIssueSchema, { id: 'QueryIssue' });
  for (const [id, schema] of Object.entries(ERROR_SCHEMAS)) registry.add(schema, { id });
  return registry;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const header = (id: string) => ({ $ref: `#/components/headers/${id}` });

function json(description: string, schema: JsonSchema, headers: Record<string, unknown> = {}) {
  return {
    description,
    headers: { 'X-Request-Id': header('X-Request-Id'), ...headers },
    content: { 'application/json': { schema } },
  };
}

function error(description: string, id: ErrorSchemaId, retry = false) {
  return json(description, ref(id), retry ? { 'Retry-After': header('Retry-After') } : {});
}

function text(description: string, mediaType: string) {
  return {
    description,
    headers: { 'X-Request-Id': header('X-Request-Id') },
    content: { [mediaType]: { schema: { type: 'string' } } },
  };
}

// Each token is optional: `{}` lets a request without one through where the token is not configured.
const OPTIONAL_PUBLISH_TOKEN = [{}, { publishToken: [] }];
const OPTIONAL_READ_TOKEN = [{}, { readToken: [] }];

const UNAUTHORIZED = {
  ...error('unauthorized: a token is configured and the request did not carry it', 'UnauthorizedError'),
  headers: { 'X-Request-Id': header('X-Request-Id'), 'WWW-Authenticate': header('WWW-Authenticate') },
};

const DEFAULT_ERROR = error('any other error, e.g. 405 method_not_allowed or 500 internal (no details)', 'Error');

/**
 * A route's query parameters: typed as parsed (numbers with bounds), optional as sent. A parameter
 * parsed into something JSON cannot show (a topic pattern) is shown as sent (a string).
 */
function queryParameters(query: z.ZodType): unknown[] {
  type Properties = { properties: Record<string, JsonSchema> };
  const parsed = inlineSchema(query, 'output') as Properties;
  const sent = inlineSchema(query, 'input') as Properties & { required?: string[] };
  return Object.entries(parsed.properties).map(([name, asParsed]) => {
    const { description, ...schema } = 'type' in asParsed ? asParsed : { ...sent.properties[name], ...asParsed };
    return { name, in: 'query', required: sent.required?.includes(name) ?? false, description, schema };
  });
}

const EXAMPLE_EVENT = {
  topic: 'orders',
  event_id: 'o-1001',
  timestamp: '2025-01-31T12:00:00Z',
  source: 'shop',
  payload: { total: 42.5 },
};

/**
 * The OpenAPI 3.1 document of the HTTP API. Every schema in it is generated from the zod schemas in
 * `@aggregator/common` (JSON Schema draft 2020-12, the dialect of OpenAPI 3.1), so the document and
 * the code cannot disagree about a shape.
 */
export function openApiDocument(): Record<string, unknown> {
  const requests = componentSchemas(requestRegistry(), 'input');
  const responses = componentSchemas(responseRegistry(), 'output');
  const clash = Object.keys(requests).filter((id) => id in responses);
  if (clash.length > 0) throw new Error(`component schema ids used twice: ${clash.join(', ')}`);

  return {
    openapi: '3.1.0',
    info: {
      title: 'aggregator',
      version,
      description:
        'Event ingestion: producers POST events; workers drop duplicates and store every unique event exactly ' +
        'once. Every error reply is {"error": {"code", "message", "details"?}}.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    paths: {
      '/publish': {
        post: {
          operationId: 'publish',
          summary: 'Publish one event or a batch',
          description:
            'Validation is all or nothing: if any event is invalid, none is accepted. 200 is sent only once ' +
            'every event is durably in the queue.',
          security: OPTIONAL_PUBLISH_TOKEN,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: ref('PublishBody'),
                examples: {
                  one: { value: EXAMPLE_EVENT },
                  batch: { value: { events: [EXAMPLE_EVENT, { ...EXAMPLE_EVENT, event_id: 'o-1002' }] } },
                },
              },
              'application/*+json': { schema: ref('PublishBody') },
            },
          },
          responses: {
            '200': json('every event is in the queue; duplicates are counted too', ref('PublishReply')),
            '400': error('malformed_json: the body is not JSON, or empty', 'MalformedJsonError'),
            '401': UNAUTHORIZED,
            '413': error(
              'the body is over MAX_BODY_BYTES, or holds more than MAX_BATCH events',
              'PayloadTooLargeError',
            ),
            '415': error('Content-Type is not application/json (or …+json) in UTF-8', 'UnsupportedMediaTypeError'),
            '422': error(
              'an event is invalid, or the batch is empty; nothing was enqueued. details lists {index, path, message} (first 100)',
              'ValidationFailedError',
            ),
            '429': error(
              'queue_full: the queue is over its limit; retry after Retry-After seconds',
              'QueueFullError',
              true,
            ),
            '503': error(
              'Redis is down or slow; retry the request after Retry-After seconds',
              'RedisUnavailableError',
              true,
            ),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/events': {
        get: {
          operationId: 'listEvents',
          summary: 'Unique stored events in processing order (seq), one page at a time',
          security: OPTIONAL_READ_TOKEN,
          description:
            'topic selects one topic, topic_pattern the topics a pattern matches (not both: 400). A pattern page is ' +
            'served from the topics index, as fast as a topic page when its literal prefix selects few topics.',
          parameters: queryParameters(eventsQuerySchema),
          responses: {
            '200': json(
              'a page of events; Link names the next page when there is one',
              {
                type: 'array',
                items: ref('StoredEvent'),
              },
              { Link: header('Link') },
            ),
            '400': error(
              'invalid_query: a parameter is invalid or repeated, a pattern is malformed (the message says how), ' +
                'or topic and topic_pattern are both given',
              'InvalidQueryError',
            ),
            '401': UNAUTHORIZED,
            '503': error('store_unavailable: no worker has created the store yet', 'StoreUnavailableError', true),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/events/stream': {
        get: {
          operationId: 'streamEvents',
          summary: 'Stored events, then each new one as it is stored, as Server-Sent Events',
          description:
            'Every event matching topic or topic_pattern (or all) with a seq above after, or above the ' +
            'Last-Event-ID header when a client reconnects, in seq order, then each new one as it is stored. ' +
            'Each message is `id: <seq>` and `data: <the event as GET /events returns it>`; a `: heartbeat` ' +
            'comment comes every STREAM_HEARTBEAT_MS (15 s) and `retry:` suggests a reconnection delay. The ' +
            'server may end the stream with a final `event: error` message whose data is an error reply ' +
            '(code stream_fell_behind: the client read too slowly; shutting_down; store_unavailable) and ' +
            'details.last_event_id; reconnecting with Last-Event-ID resumes with nothing lost or repeated, on ' +
            'any replica.',
          security: [{}, { readToken: [] }, { readTokenParameter: [] }],
          parameters: [
            ...queryParameters(streamQuerySchema),
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'the seq of the last event received; takes precedence over after',
              schema: { type: 'string', pattern: '^\\d{1,15}$' },
            },
          ],
          responses: {
            '200': text('an endless text/event-stream', 'text/event-stream'),
            '400': error(
              'invalid_query: a parameter or Last-Event-ID is invalid or repeated, a pattern is malformed, ' +
                'or topic and topic_pattern are both given',
              'InvalidQueryError',
            ),
            '401': UNAUTHORIZED,
            '503': error(
              'store_unavailable; too_many_streams: this replica holds MAX_STREAMS streams; shutting_down',
              'StreamUnavailableError',
              true,
            ),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/topics': {
        get: {
          operationId: 'listTopics',
          summary: 'Topics with their number of stored events and last seq, sorted by name, one page at a time',
          description:
            'Sorted by name in byte order (UTF-8). events and last_seq are exact at rest and equal what ' +
            'GET /events?topic= returns for that topic.',
          security: OPTIONAL_READ_TOKEN,
          parameters: queryParameters(topicsQuerySchema),
          responses: {
            '200': json(
              'a page of topics; Link names the next page when there is one',
              { type: 'array', items: ref('TopicStats') },
              { Link: header('Link') },
            ),
            '400': error(
              'invalid_query: a parameter is invalid or repeated, or a pattern is malformed (the message says how)',
              'InvalidQueryError',
            ),
            '401': UNAUTHORIZED,
            '503': error('store_unavailable: no worker has created the store yet', 'StoreUnavailableError', true),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/stats': {
        get: {
          operationId: 'stats',
          summary: 'Exact counters, topics, queue depth and live workers',
          security: OPTIONAL_READ_TOKEN,
          responses: {
            '200': json('the counters; at rest received = unique_processed + duplicate_dropped', ref('Stats')),
            '401': UNAUTHORIZED,
            '503': error('Redis is unavailable, or the store cannot be read yet', 'UnavailableError', true),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'healthz',
          summary: 'Liveness: the process runs',
          responses: { '200': json('the process answers', ref('Health')), default: DEFAULT_ERROR },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness: Redis answers and the store is readable',
          responses: {
            '200': json('ready for traffic', ref('Ready')),
            '503': error(
              'not_ready (details names what is down) or shutting_down (graceful shutdown in progress)',
              'NotReadyError',
              true,
            ),
            default: DEFAULT_ERROR,
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openApi',
          summary: 'This document',
          responses: { '200': json('the OpenAPI 3.1 document', { type: 'object' }) },
        },
      },
      '/': {
        get: {
          operationId: 'statusPage',
          summary: 'A status page for people: counters, rate chart, queue and workers, refreshed live',
          responses: { '200': text('a self-contained HTML page (no external assets)', 'text/html') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          security: OPTIONAL_READ_TOKEN,
          responses: { '200': text('Prometheus text exposition format 0.0.4', 'text/plain'), '401': UNAUTHORIZED },
        },
      },
    },
    components: {
      schemas: { ...requests, ...responses },
      headers: {
        'X-Request-Id': {
          description: 'the request id: the one sent in X-Request-Id when it is sane, else a new one',
          schema: { type: 'string' },
        },
        'Retry-After': {
          description: 'seconds to wait before retrying',
          schema: { type: 'integer', minimum: 0 },
        },
        Link: {
          description:
            'RFC 8288 link to the next page, with the same filter: </events?…&after=N&limit=M>; rel="next" ' +
            '(after = the last seq), </topics?…&after=T&limit=M>; rel="next" (after = the last topic)',
          schema: { type: 'string' },
        },
        'WWW-Authenticate': { description: 'the scheme to use: Bearer', schema: { type: 'string' } },
      },
      securitySchemes: {
        publishToken: { type: 'http', scheme: 'bearer', description: 'API_TOKEN; required only when it is set' },
        readToken: { type: 'http', scheme: 'bearer', description: 'READ_TOKEN; required only when it is set' },
        readTokenParameter: {
          type: 'apiKey',
          in: 'query',
          name: 'access_token',
          description: 'READ_TOKEN as a query parameter, on GET /events/stream only (EventSource cannot send headers)',
        },
      },
    },
  };
}
