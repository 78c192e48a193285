import type { TopicPattern } from '@aggregator/common';

/**
 * The half-open range `[from, to)` of topic names, in byte order (UTF-8, as SQLite sorts text and
 * PostgreSQL with `COLLATE "C"`), that holds every topic starting with `pattern.prefix`, or undefined
 * when the prefix is empty (every topic may match). A store reads its topics index over this range
 * and keeps the ones the pattern matches; undefined too for a pattern without wildcards (read that
 * one topic). The prefix ends with a dot, and the dot is byte 0x2E:
 * every string that starts with it sorts below the same string with `/` (0x2F) in the dot's place.
 */
export function topicRange(pattern: TopicPattern): { from: string; to: string } | undefined {
  if (pattern.exact !== undefined || pattern.prefix === '') return undefined;
  return { from: pattern.prefix, to: `${pattern.prefix.slice(0, -1)}/` };
}
