import { type TopicPattern, topicRange } from '@aggregator/common';
import type { ListQuery } from './eventStore.js';

/**
 * How an adapter reads the topics a query selects, shared by both: the bounds of a range read over
 * the topics index (byte order), and when a pattern page stops merging one index range per topic.
 */

/**
 * Above this many matched topics, a pattern page scans the seq index keeping rows of those topics,
 * instead of merging one `(topic, seq)` range per topic: merging costs a seek and a comparison per
 * topic, and a pattern that matches this many topics usually matches much of the stream, so the
 * scan finds a page in few rows (measured with `npm run bench -- --mode query`, docs/benchmarks.md).
 */
export const MAX_MERGED_TOPICS = 64;

/**
 * Sorts after every topic: a topic is at most 255 well-formed code points, and U+10FFFF is the
 * largest code point (its UTF-8 bytes the largest lead), so 256 of them sort after any topic.
 */
const PAST_EVERY_TOPIC = '\u{10FFFF}'.repeat(256);

/** A range read of the topics index: `from <= topic AND topic > after AND topic < to`, byte order. */
export interface TopicBounds {
  from: string;
  after: string;
  to: string;
}

/**
 * The bounds holding every topic `pattern` may match (every topic without one), past `after` (the
 * last topic of a previous page; topics are never empty, so `''` excludes nothing).
 */
export function topicBounds(pattern: TopicPattern | undefined, after = ''): TopicBounds {
  const range = pattern && topicRange(pattern);
  return { from: range?.from ?? '', after, to: range?.to ?? PAST_EVERY_TOPIC };
}

/** What a `ListQuery` selects, once its pattern is resolved as far as it can be without reading. */
export type Selection = { kind: 'all' } | { kind: 'topic'; topic: string } | { kind: 'pattern'; pattern: TopicPattern };

export function selectionOf(query: ListQuery): Selection {
  const { topic, topicPattern: pattern } = query;
  if (topic !== undefined && pattern !== undefined)
    throw new Error('a list query takes a topic or a pattern, not both');
  if (topic !== undefined) return { kind: 'topic', topic };
  if (pattern === undefined) return { kind: 'all' };
  if (pattern.exact !== undefined) return { kind: 'topic', topic: pattern.exact };
  // `>` alone matches every topic.
  if (pattern.segments.length === 1 && pattern.segments[0]?.kind === 'rest') return { kind: 'all' };
  return { kind: 'pattern', pattern };
}

/** One read the caller of `matchingTopics` performs: topic names within `bounds`, at most `limit` (all when undefined). */
export interface TopicRead {
  bounds: TopicBounds;
  limit: number | undefined;
}

/** How many names `matchingTopics` asks for at once when it pages a range. */
const TOPIC_READ_CHUNK = 512;

/**
 * The topics `pattern` matches (every topic without one) after `after`, in byte order, at most
 * `limit`. A generator so that both adapters, one synchronous and one not, share it: it yields each
 * read of the topics index it needs and takes back the names read.
 */
export function* matchingTopics(
  pattern: TopicPattern | undefined,
  after: string | undefined,
  limit = Number.POSITIVE_INFINITY,
): Generator<TopicRead, string[], string[]> {
  const found: string[] = [];
  let bounds = topicBounds(pattern, after);
  // The whole range in one read, unless a page of it is wanted: then chunks, as the pattern may
  // skip many names of the range.
  const chunk = Number.isFinite(limit) ? Math.max(limit, TOPIC_READ_CHUNK) : undefined;
  for (;;) {
    const names = yield { bounds, limit: chunk };
    for (const name of names) {
      if (pattern && !pattern.matches(name)) continue;
      found.push(name);
      if (found.length >= limit) return found;
    }
    const last = names.at(-1);
    if (chunk === undefined || names.length < chunk || last === undefined) return found;
    bounds = { ...bounds, after: last };
  }
}

/** Runs `matchingTopics` against a synchronous reader of the topics index. */
export function runSync(steps: Generator<TopicRead, string[], string[]>, read: (r: TopicRead) => string[]): string[] {
  let step = steps.next();
  while (!step.done) step = steps.next(read(step.value));
  return step.value;
}

/** Runs `matchingTopics` against an asynchronous reader of the topics index. */
export async function runAsync(
  steps: Generator<TopicRead, string[], string[]>,
  read: (r: TopicRead) => Promise<string[]>,
): Promise<string[]> {
  let step = steps.next();
  while (!step.done) step = steps.next(await read(step.value));
  return step.value;
}
