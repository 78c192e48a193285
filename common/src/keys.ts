import type { Config } from './config.js';
import { partitionOf } from './partition.js';

/**
 * Every Redis key and queue name the service uses, built in one place.
 *
 * Keys are `<prefix>:<family>[:<parts>]`. Each family is a fixed word, and a variable part only ever
 * comes last, so keys of different families cannot meet. No key holds an event's topic or id: the
 * fast path stores a pair as a fixed-size digest of `pairIdentity` (below) inside hashes named
 * `<fastPath>:<generation>:<shard>`, two integers, so one client cannot make a key long.
 *
 * Two layouts:
 * - plain (one queue on one Redis, the default): `<prefix>:bull:events:…` for the queue,
 *   `<prefix>:fastpath[:…]`, `<prefix>:probe`, `<prefix>:stats`, `<prefix>:topics`, `<prefix>:workers`.
 * - hash-tagged (`QUEUE_PARTITIONS` > 1, or a Redis Cluster): partition `n` lives under the prefix
 *   `{<prefix>:p<n>}` — BullMQ's keys `{<prefix>:p<n>}:events:…`, the fast-path keys
 *   `{<prefix>:p<n>}:fastpath[:…]` and the write probe `{<prefix>:p<n>}:probe` — so a queue's keys
 *   and the claims of its jobs share one cluster slot,
 *   while different partitions spread over the shards. On a cluster the shared keys become
 *   `{<prefix>}:stats`, `{<prefix>}:topics`, `{<prefix>}:workers` and the channel `{<prefix>}:committed` (one slot: the counters script
 *   writes the first two at once). The prefix admits no `{`, `}` or `:`, so the tags never meet.
 */
export interface QueueKeys {
  /** The partition number (stable: partition 3 has the same keys whatever QUEUE_PARTITIONS is). */
  readonly partition: number;
  /** BullMQ's own prefix; BullMQ builds `<bullPrefix>:<queueName>:…` from it. */
  readonly bullPrefix: string;
  readonly queueName: string;
  /**
   * The fast-path hash of this queue's jobs (in the queue's slot); its claims live in the hashes
   * `<fastPath>:<generation>:<shard>` (worker/src/lua/fastPathClaim.ts).
   */
  readonly fastPath: string;
  /** A small key that readiness writes, to learn whether this queue's Redis node takes writes. */
  readonly probe: string;
}

export interface Keys {
  /** QUEUE_PARTITIONS. */
  readonly partitions: number;
  /** The queue of each partition, at its partition number. */
  readonly queues: readonly QueueKeys[];
  /** The partition of every event of `topic` (see partition.ts). */
  partitionOf(topic: string): number;
  /** The queue of any partition number, also one outside `queues` (an old layout's, to drain it). */
  queue(partition: number): QueueKeys;
  /** Hash of the exact counters, mirrored from the store. */
  readonly stats: string;
  /** Set of topic names that have at least one stored event. */
  readonly topics: string;
  /** Sorted set of worker replica ids, scored by their last heartbeat (epoch ms). */
  readonly workers: string;
  /**
   * Pub/sub channel on which workers announce each group commit that stored events (the message is
   * the highest `seq` committed), so API replicas read the store for their open streams.
   */
  readonly committed: string;
}

export interface KeyOptions {
  /** QUEUE_PARTITIONS; 1 by default. */
  partitions?: number;
  /** Whether the keys live on a Redis Cluster (hash tags on every key). */
  cluster?: boolean;
}

/** Builds the key set of one deployment. */
export function createKeys(prefix: string, options: KeyOptions = {}): Keys {
  const partitions = options.partitions ?? 1;
  const cluster = options.cluster ?? false;
  const tagged = cluster || partitions > 1;
  const queue = (partition: number): QueueKeys => {
    const base = tagged ? `{${prefix}:p${partition}}` : prefix;
    return {
      partition,
      bullPrefix: tagged ? base : `${prefix}:bull`,
      queueName: 'events',
      fastPath: `${base}:fastpath`,
      probe: `${base}:probe`,
    };
  };
  const queues = Array.from({ length: partitions }, (_, p) => queue(p));
  const shared = cluster ? `{${prefix}}` : prefix;
  const of = (topic: string) => partitionOf(topic, partitions);
  return {
    partitions,
    queues,
    partitionOf: of,
    queue,
    stats: `${shared}:stats`,
    topics: `${shared}:topics`,
    workers: `${shared}:workers`,
    committed: `${shared}:committed`,
  };
}

/** The key set a process builds from its configuration (prefix, partitions, cluster or not). */
export function keysFromConfig(
  config: Pick<Config, 'REDIS_PREFIX' | 'QUEUE_PARTITIONS' | 'REDIS_CLUSTER_NODES'>,
): Keys {
  return createKeys(config.REDIS_PREFIX, {
    partitions: config.QUEUE_PARTITIONS,
    cluster: config.REDIS_CLUSTER_NODES !== undefined,
  });
}

/**
 * One string per `(topic, event_id)` pair, distinct for distinct pairs whatever characters they
 * contain: `<topic length>:<topic><event_id>`, where the length says exactly where the topic ends.
 * (Identifiers are well-formed Unicode, so their UTF-8 bytes are distinct too.) The fast path keeps
 * a digest of it.
 */
export function pairIdentity(topic: string, eventId: string): string {
  return `${topic.length}:${topic}${eventId}`;
}
