/**
 * Every Redis key and queue name the service uses, built in one place.
 *
 * Keys are `<prefix>:<family>[:<parts>]`. Each family is a fixed word, and a variable part only ever
 * comes last, so keys of different families cannot meet. Inside the dedup family the pair is written
 * as `<topic length>:<topic><event_id>`: the length says exactly where the topic ends, so no two
 * distinct pairs can produce the same key, whatever characters they contain. (Identifiers are
 * well-formed Unicode, so their UTF-8 bytes are distinct too.)
 */
export interface Keys {
  /** BullMQ's own prefix; BullMQ builds `<bullPrefix>:<queueName>:…` from it. */
  readonly bullPrefix: string;
  readonly queueName: string;
  /** Hash of the exact counters, mirrored from the store. */
  readonly stats: string;
  /** Set of topic names that have at least one stored event. */
  readonly topics: string;
  /** Sorted set of worker replica ids, scored by their last heartbeat (epoch ms). */
  readonly workers: string;
  /** The fast-path key of one pair. */
  dedup(topic: string, eventId: string): string;
}

/** Builds the key set of one deployment. */
export function createKeys(prefix: string): Keys {
  return {
    bullPrefix: `${prefix}:bull`,
    queueName: 'events',
    stats: `${prefix}:stats`,
    topics: `${prefix}:topics`,
    workers: `${prefix}:workers`,
    dedup: (topic, eventId) => `${prefix}:dedup:${topic.length}:${topic}${eventId}`,
  };
}
