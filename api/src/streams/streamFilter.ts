import type { TopicFilter } from '../apiSchemas.js';

/** Whether an event of `topic` belongs on a stream with `filter` (the one the store applies too). */
export function filterMatches(filter: TopicFilter, topic: string): boolean {
  if (filter.topic !== undefined) return filter.topic === topic;
  return filter.topicPattern?.matches(topic) ?? true;
}

// The stores build every event's JSON as `{"topic":<JSON string>,…` (store/src/*/sql/listEvents.ts).
const TOPIC_START = '{"topic":"'.length;

/**
 * The topic of an event given as the JSON text the store builds, read from its first field without
 * parsing the rest (the hub reads every new event once for every stream on the replica, and a
 * payload may be large).
 *
 * @throws Error when the text does not start with the topic field
 */
export function topicOfEventJson(json: string): string {
  if (!json.startsWith('{"topic":"')) throw new Error('an event whose JSON does not start with its topic');
  const end = json.indexOf('"', TOPIC_START);
  const raw = json.slice(TOPIC_START, end);
  if (!raw.includes('\\')) return raw;
  // An escaped character (a quote, a backslash, or a \u escape): find the closing quote, skipping
  // each escape, and let JSON.parse decode the string.
  let i = TOPIC_START;
  while (json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
  return JSON.parse(json.slice(TOPIC_START - 1, i + 1)) as string;
}
