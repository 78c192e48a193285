import { randomUUID } from 'node:crypto';
import {
  BATCH_JOB_NAME,
  type BatchJobData,
  batchJobOptions,
  type Config,
  coerceError,
  type Event,
  ensureReady,
  type Redis,
  UnavailableError,
} from '@aggregator/common';
import type { JobsOptions, Queue } from 'bullmq';

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
 * Enqueues events as exactly one job: BullMQ adds a job with one Lua script, so the events are
 * queued all together or not at all. Each job gets a random id, so a job id is never reused even
 * after Redis loses its data (the store remembers applied job ids).
 */
export class QueuePublisher implements Publisher {
  readonly #options: JobsOptions;

  constructor(
    private readonly queue: Queue<BatchJobData>,
    /** The queue's own connection, to fail fast while it is down. */
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
      await withTimeout(
        this.queue.add(BATCH_JOB_NAME, { events: [...events], acceptedAt }, { ...this.#options, jobId: randomUUID() }),
        this.config.ENQUEUE_TIMEOUT_MS,
        () => new Error(`Redis did not confirm the enqueue within ${this.config.ENQUEUE_TIMEOUT_MS} ms`),
      );
      this.onEnqueued(1, events.length);
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
}
