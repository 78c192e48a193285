import { coerceError, type Logger } from '@aggregator/common';
import { QueueFullError } from '../http/appErrors.js';
import { countPartitionJobs, type PartitionQueue } from './partitionQueues.js';

/** How old a depth sample may be before a publish triggers a new one. */
const SAMPLE_MS = 250;

/**
 * Backpressure: refuses publishes with 429 while the queue holds more than `maxEvents` events, so
 * a stalled or slow pipeline makes producers back off instead of filling Redis until it runs out
 * of memory.
 *
 * The depth is sampled (at most every 250 ms, without delaying any request) as the jobs that wait,
 * run or are delayed in every partition, times the mean events per job this replica has enqueued. It is an estimate:
 * a replica may overshoot the limit by what it accepts within one sample.
 */
export class QueueDepthGuard {
  #estimate = 0;
  #sampledAt = 0;
  #sampling = false;
  #jobs = 0;
  #events = 0;

  constructor(
    private readonly queues: readonly PartitionQueue[],
    private readonly maxEvents: number,
    private readonly logger: Logger,
  ) {}

  /** @throws QueueFullError (429, with Retry-After) when the last sample is over the limit. */
  check(): void {
    if (this.maxEvents === 0) return;
    if (Date.now() - this.#sampledAt > SAMPLE_MS) void this.#sample();
    if (this.#estimate > this.maxEvents) throw new QueueFullError(Math.round(this.#estimate), this.maxEvents, 2);
  }

  /** Records what this replica enqueued, to estimate events per job. */
  recordEnqueued(jobs: number, events: number): void {
    this.#jobs += jobs;
    this.#events += events;
  }

  get estimate(): number {
    return this.#estimate;
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      // Failed jobs no longer take a worker's time; everything else does.
      const counts = await countPartitionJobs(this.queues);
      const jobs = counts.reduce((sum, c) => sum + c.waiting + c.active + c.delayed, 0);
      const perJob = this.#jobs > 0 ? this.#events / this.#jobs : 1;
      this.#estimate = jobs * perJob;
      this.#sampledAt = Date.now();
    } catch (e: unknown) {
      this.logger.debug({ err: coerceError(e).message }, 'queue depth sample failed');
    } finally {
      this.#sampling = false;
    }
  }
}
