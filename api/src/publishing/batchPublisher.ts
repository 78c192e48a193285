import { randomUUID } from 'node:crypto';
import { type Config, coerceError, type Event, ensureReady, type Keys, type Redis } from '@aggregator/common';
import type { JobsOptions } from 'bullmq';
import { UnavailableError } from '../http/appErrors.js';
import { BATCH_JOB_NAME, batchJobOptions } from './batchJobOptions.js';
import type { PartitionQueue } from './partitionQueues.js';
import { waitForReplicas } from './waitForReplicas.js';

/** Puts validated events into the queue; resolves only once they are in Redis. */
export interface Publisher {
  publish(events: readonly Event[]): Promise<void>;
}

/** Rejects with `onTimeout()` when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Enqueues events as one job per partition they fall in (one job in all with QUEUE_PARTITIONS=1).
 * BullMQ adds a job with one Lua script, so each part is queued all together or not at all; the
 * publish resolves only when every part is in Redis (and, with `REDIS_WAIT_REPLICAS`, on that many
 * replicas of its master). When any part fails the whole publish fails with 503: the client retries
 * it, and the parts that did get in are then dropped by the workers as duplicates. Each job gets a
 * random id, so a job id is never reused even after Redis loses its data (the store remembers
 * applied job ids).
 */
export class QueuePublisher implements Publisher {
  readonly #options: JobsOptions;

  constructor(
    /** The queue of every partition, at its partition number. */
    private readonly queues: readonly PartitionQueue[],
    private readonly keys: Keys,
    /** The queues' own connection, to fail fast while it is down (and to WAIT on). */
    private readonly redis: Redis,
    private readonly config: Config,
    /** Told what each successful enqueue carried (for the queue-depth estimate). */
    private readonly onEnqueued: (jobs: number, events: number) => void = () => {},
  ) {
    this.#options = batchJobOptions(config);
  }

  async publish(events: readonly Event[]): Promise<void> {
    const acceptedAt = Date.now();
    try {
      await ensureReady(this.redis, 500);
      const parts = [...this.#split(events)].map(([partition, part]) => this.#enqueue(partition, part, acceptedAt));
      await withTimeout(
        Promise.all(parts),
        this.config.ENQUEUE_TIMEOUT_MS,
        () => new Error(`Redis did not confirm the enqueue within ${this.config.ENQUEUE_TIMEOUT_MS} ms`),
      );
    } catch (thrown: unknown) {
      throw new UnavailableError(
        'redis_unavailable',
        'the queue did not confirm the events; retry the request (duplicates are dropped)',
        {
          cause: coerceError(thrown),
        },
      );
    }
  }

  /** The events by partition, each part in request order. */
  #split(events: readonly Event[]): Map<number, Event[]> {
    const parts = new Map<number, Event[]>();
    if (this.queues.length === 1) return parts.set(0, [...events]);
    for (const event of events) {
      const partition = this.keys.partitionOf(event.topic);
      const part = parts.get(partition);
      if (part) part.push(event);
      else parts.set(partition, [event]);
    }
    return parts;
  }

  async #enqueue(partition: number, events: Event[], acceptedAt: number): Promise<void> {
    const { queue } = this.queues[partition] as PartitionQueue;
    await queue.add(BATCH_JOB_NAME, { events, acceptedAt }, { ...this.#options, jobId: randomUUID() });
    const wanted = this.config.REDIS_WAIT_REPLICAS;
    if (wanted > 0) {
      const queueKeys = this.keys.queue(partition);
      // What is left of the enqueue's budget, so that a lagging replica ends in this error (which
      // says so) rather than in the outer timeout, and WAIT holds the shared connection no longer.
      const remainingMs = Math.max(1, this.config.ENQUEUE_TIMEOUT_MS - (Date.now() - acceptedAt) - 50);
      const acked = await waitForReplicas(
        this.redis,
        `${queueKeys.bullPrefix}:${queueKeys.queueName}`,
        wanted,
        remainingMs,
      );
      if (acked < wanted) {
        throw new Error(`only ${acked} of ${wanted} replicas confirmed the job of partition ${partition}`);
      }
    }
    this.onEnqueued(1, events.length);
  }
}
