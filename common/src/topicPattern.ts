/**
 * Topic patterns: how a consumer selects topics by their hierarchy (`region.service.type`).
 *
 * A topic is a sequence of segments separated by dots (`eu.orders.created` has three; `a..b` has
 * three too, the middle one empty). In a pattern each segment is either
 *
 * - `*`: exactly one segment, whatever it holds;
 * - `>`: one or more segments, whatever they hold; only as the last segment;
 * - anything else: that segment, character for character.
 *
 * So `eu.*.error` matches `eu.orders.error` but not `eu.error` or `eu.a.b.error`; `eu.>` matches
 * `eu.orders` and `eu.orders.created` but not `eu`; `>` matches every topic; a pattern without a
 * wildcard matches that one topic. A topic segment that holds `*` or `>` (`a*`, `>`) is matched only
 * through a wildcard: a pattern segment is either a whole wildcard or free of them.
 *
 * A pattern is refused with a message saying why when it is empty, has an empty segment, has `>`
 * anywhere but last, or mixes a wildcard with other characters in one segment (`a*`). Beyond that
 * it obeys the rules of a topic (at most 255 characters, no control characters, well-formed).
 */
import { identifier } from './eventSchema.js';

export type PatternSegment = { kind: 'literal'; text: string } | { kind: 'one' } | { kind: 'rest' };

export interface TopicPattern {
  /** The pattern as given. */
  readonly source: string;
  readonly segments: readonly PatternSegment[];
  /** The one topic it matches when it has no wildcard. */
  readonly exact: string | undefined;
  /**
   * Every topic the pattern matches starts with this: the literal segments before the first
   * wildcard, each followed by its dot (`eu.orders.` for `eu.orders.*`, `` for `*.error`).
   */
  readonly prefix: string;
  matches(topic: string): boolean;
}

/** A pattern that cannot be used, with a message for the client. */
export class TopicPatternError extends Error {
  override name = 'TopicPatternError';
}

/** Parses and checks a pattern; throws `TopicPatternError` with a readable message. */
export function parseTopicPattern(source: string): TopicPattern {
  const asTopic = identifier.safeParse(source);
  if (!asTopic.success) throw new TopicPatternError(asTopic.error.issues[0]?.message ?? 'is not a valid pattern');
  const texts = source.split('.');
  const segments = texts.map((text, i): PatternSegment => {
    if (text === '') {
      throw new TopicPatternError(
        `segment ${i + 1} of "${source}" is empty: a pattern has no leading, trailing or doubled dots`,
      );
    }
    if (text === '*') return { kind: 'one' };
    if (text === '>') {
      if (i !== texts.length - 1) {
        throw new TopicPatternError(`">" may only be the last segment, as in "eu.>" (segment ${i + 1} of "${source}")`);
      }
      return { kind: 'rest' };
    }
    if (text.includes('*') || text.includes('>')) {
      throw new TopicPatternError(
        `segment "${text}" mixes a wildcard with other characters: "*" and ">" must each be a whole segment`,
      );
    }
    return { kind: 'literal', text };
  });
  const firstWildcard = segments.findIndex((s) => s.kind !== 'literal');
  const exact = firstWildcard === -1 ? source : undefined;
  const prefix = firstWildcard === -1 ? source : texts.slice(0, firstWildcard).reduce((p, t) => `${p}${t}.`, '');
  return { source, segments, exact, prefix, matches: (topic) => matchSegments(segments, topic.split('.')) };
}

function matchSegments(pattern: readonly PatternSegment[], topic: readonly string[]): boolean {
  for (const [i, segment] of pattern.entries()) {
    if (segment.kind === 'rest') return topic.length > i;
    if (i >= topic.length) return false;
    if (segment.kind === 'literal' && segment.text !== topic[i]) return false;
  }
  return topic.length === pattern.length;
}
