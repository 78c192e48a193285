/**
 * The HTTP API's request and reply shapes as zod schemas, built on the shared `eventSchema`. They
 * are the one source of the OpenAPI document (operations/openApiDocument.ts): the routes parse with
 * them or return values of their types, and the tests check real replies against the document
 * built from them.
 */

import { eventSchema, identifier, parseTopicPattern, type TopicPattern, TopicPatternError } from '@aggregator/common';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './http/appErrors.js';

/** The most events one `GET /events` page holds. */
export const MAX_EVENTS_PAGE = 1000;

/** The most topics one `GET /topics` page holds. */
export const MAX_TOPICS_PAGE = 1000;

const count = z.number().int().min(0);

/**
 * A `POST /publish` body: one event, a JSON array of events, or `{"events": [...]}`. Documents what
 * `parsePublishBody` accepts (which also enforces `MAX_BATCH` and reports issues per event).
 */
export const publishBodySchema = z
  .union([
    eventSchema,
    z.array(eventSchema).min(1),
    z.object({ events: z.array(eventSchema).min(1) }).meta({ description: 'a batch wrapped in an object' }),
  ])
  .meta({ description: 'one event, a JSON array of events, or {"events": [...]}; at most MAX_BATCH events' });

/** `200` from `POST /publish`. */
export const publishReplySchema = z.object({
  accepted: z.number().int().min(1).meta({ description: 'events durably enqueued, duplicates included' }),
});

// Repeated query parameters arrive as arrays; each one may be given once.
const single = (name: string) => z.string({ error: `"${name}" must be given at most once` });

/** `topic_pattern`: parsed into a TopicPattern; a bad one is an issue saying what is wrong with it. */
const topicPatternParam = single('topic_pattern')
  .transform((source, ctx): TopicPattern => {
    try {
      return parseTopicPattern(source);
    } catch (e: unknown) {
      if (!(e instanceof TopicPatternError)) throw e;
      ctx.issues.push({ code: 'custom', message: e.message, input: source });
      return z.NEVER;
    }
  })
  .optional()
  .meta({
    description:
      'only topics this pattern matches: dot-separated segments, "*" is exactly one segment, ">" (last ' +
      'segment only) one or more, e.g. eu.*.error or eu.>; without a wildcard, that one topic',
  });

/**
 * The query parameters that select topics, `topic` and `topic_pattern` (at most one of them), for
 * every route that reads events by topic: spread into the route's `z.object` and refine it with
 * `oneTopicFilter`, then hand `topicFilterOf(parsed)` to the store.
 */
export const topicFilterShape = {
  topic: single('topic')
    .pipe(identifier)
    .optional()
    .meta({ description: 'only events of this topic; every topic when absent (and no topic_pattern)' }),
  topic_pattern: topicPatternParam,
};

/** What a query selects: one topic, the topics a pattern matches, or every topic (neither). */
export interface TopicFilter {
  topic?: string;
  topicPattern?: TopicPattern;
}

/** The refinement of a query with `topicFilterShape`: `topic` and `topic_pattern` exclude each other. */
export function oneTopicFilter(query: { topic?: string; topic_pattern?: TopicPattern }, ctx: z.RefinementCtx): void {
  if (query.topic !== undefined && query.topic_pattern !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['topic_pattern'],
      message: 'cannot be given with "topic": use "topic" for one topic or "topic_pattern" for a pattern, not both',
    });
  }
}

/** The filter of a query parsed with `topicFilterShape`, as the store takes it. */
export function topicFilterOf(query: { topic?: string; topic_pattern?: TopicPattern }): TopicFilter {
  return query.topic_pattern !== undefined ? { topicPattern: query.topic_pattern } : { topic: query.topic };
}

/** `limit`: a page size from 1 to `max`, 100 when absent. */
function pageLimit(max: number, what: string) {
  return single('limit')
    .regex(/^\d{1,4}$/, `must be an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be from 1 to ${max}`).max(max, `must be from 1 to ${max}`))
    .default(100)
    .meta({ description: `the most ${what} in this page` });
}

/**
 * The query of `GET /events`. Parses strings; the output side (numbers with their bounds) is what
 * the OpenAPI document shows.
 */
export const eventsQuerySchema = z
  .object({
    ...topicFilterShape,
    after: single('after')
      .regex(/^\d{1,15}$/, 'must be a non-negative integer (the last seq you have seen)')
      .transform(Number)
      .pipe(z.number().int().min(0).max(999_999_999_999_999))
      .default(0)
      .meta({ description: 'the last seq you have seen; only events with a greater seq are returned' }),
    limit: pageLimit(MAX_EVENTS_PAGE, 'events'),
  })
  .superRefine(oneTopicFilter);

/** The query of `GET /topics`. */
export const topicsQuerySchema = z.object({
  topic_pattern: topicPatternParam,
  after: single('after')
    .pipe(identifier)
    .optional()
    .meta({ description: 'the last topic you have seen; only topics after it (in byte order) are returned' }),
  limit: pageLimit(MAX_TOPICS_PAGE, 'topics'),
});

/** One topic of `GET /topics`. */
export const topicStatsSchema = z.object({
  topic: identifier,
  events: count.meta({ description: 'its stored events: what GET /events?topic= lists, exact at rest' }),
  last_seq: z.number().int().min(1).meta({ description: 'the seq of its last stored event' }),
});

/**
 * The query of `GET /events/stream`: the filter of `GET /events` and where to start. A
 * `Last-Event-ID` header, sent by a reconnecting EventSource, takes precedence over `after`.
 */
export const streamQuerySchema = z
  .object({
    ...topicFilterShape,
    after: eventsQuerySchema.shape.after,
    access_token: single('access_token')
      .optional()
      .meta({ description: 'READ_TOKEN, for clients that cannot send an Authorization header (EventSource)' }),
  })
  .superRefine(oneTopicFilter);

/** One event of `GET /events`: as published, plus its place in processing order. */
export const storedEventSchema = eventSchema.extend({
  seq: z.number().int().min(1).meta({ description: 'position in processing order; strictly increasing' }),
  processed_at: z.iso.datetime().meta({ description: 'when the store committed the event (UTC)' }),
});

/** `200` from `GET /stats`. */
export const statsSchema = z.object({
  received: count.meta({ description: 'events the workers have taken in, duplicates included' }),
  unique_processed: count.meta({ description: 'events stored (one per (topic, event_id) pair)' }),
  duplicate_dropped: count.meta({ description: 'duplicates dropped; at rest received = unique + duplicates' }),
  topic_count: count.meta({ description: 'topics with a stored event' }),
  topics: z.array(identifier).meta({
    description:
      'deprecated: the first 100 topics by name in byte order (all of them up to 100); GET /topics pages them all',
  }),
  uptime_seconds: count.meta({ description: 'since the service first started on this store' }),
  queue: z
    .object({ waiting: count, active: count, delayed: count, failed: count })
    .meta({ description: 'jobs (one per request or JOB_MAX_EVENTS chunk) by state, over every partition' }),
  partitions: z
    .array(
      z.object({
        partition: count.meta({ description: 'partition number (FNV-1a of the topic, mod QUEUE_PARTITIONS)' }),
        waiting: count,
        active: count,
        delayed: count,
        failed: count,
      }),
    )
    .meta({ description: 'the jobs of each queue partition by state (one entry when QUEUE_PARTITIONS=1)' }),
  workers: count.meta({ description: 'worker replicas with a heartbeat in the last 10 s' }),
});

/** `200` from `GET /healthz`. */
export const healthReplySchema = z.object({ status: z.literal('ok') });

/** What `GET /readyz` checked. */
export const readinessChecksSchema = z.object({
  redis: z.enum(['up', 'down']),
  store: z.enum(['up', 'down']),
});

/** `200` from `GET /readyz`. */
export const readyReplySchema = z.object({ status: z.literal('ready'), checks: readinessChecksSchema });

/** One problem in a publish body (`details` of `validation_failed`). */
export const validationIssueSchema = z.object({
  index: z
    .number()
    .int()
    .min(0)
    .nullable()
    .meta({ description: "the event's position in the batch; null for the body itself" }),
  path: z.string().meta({ description: 'the field, dot-separated; empty for the whole event or body' }),
  message: z.string(),
});

/** One problem in a query (`details` of `invalid_query`). */
export const queryIssueSchema = z.object({ path: z.string(), message: z.string() });

/**
 * The error envelope `{"error": {"code", "message", "details"?}}`, narrowed to `codes`, with
 * `details` of the given shape when there is one.
 */
export function errorReplySchema(codes: readonly [ErrorCode, ...ErrorCode[]], details?: z.ZodType) {
  return z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string(),
      details: (details ?? z.unknown()).optional(),
    }),
  });
}

/** Any error reply, whatever its code. */
export const anyErrorReplySchema = errorReplySchema(ERROR_CODES);
