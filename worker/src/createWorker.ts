import {
  type BatchJobData,
  type Config,
  classifyFailure,
  coerceError,
  type Logger,
  type QueueKeys,
  type Redis,
} from '@aggregator/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { type ProcessDeps, processBatch } from './processBatch.js';
import { validateJobData } from './validateJobData.js';

/**
 * The BullMQ worker of one replica on one partition's queue (`deps.fastPath` must claim in that
 * partition's keys, so a job's claims stay in its queue's slot). Stalled-job detection hands the jobs of a dead worker to the
 * others once its lock (`WORKER_LOCK_MS`) expires, checked every `WORKER_STALLED_INTERVAL_MS`.
 */
export function createWorker(
  config: Config,
  connection: Redis,
  deps: ProcessDeps,
  logger: Logger,
  queue: QueueKeys,
): Worker<BatchJobData> {
  const worker = new Worker<BatchJobData>(
    queue.queueName,
    async (job: Job<BatchJobData>) => {
      const jobId = job.id as string;
      let data: BatchJobData;
      try {
        data = validateJobData(job.data);
      } catch (invalid: unknown) {
        // Never retried and nothing stored: an operator must see it (the job stays failed, with this reason).
        deps.metrics?.jobFailures.inc({ code: 'invalid_job' });
        logger.error({ jobId, err: coerceError(invalid).message }, 'job refused: its data is invalid; not retrying');
        throw invalid;
      }
      const endJob = deps.metrics?.jobDuration.startTimer();
      try {
        const outcome = await processBatch(deps, jobId, data);
        endJob?.();
        logger.debug(
          {
            jobId,
            events: data.events.length,
            inserted: outcome.inserted,
            duplicates: outcome.duplicates,
            first: outcome.firstApplication,
          },
          'job done',
        );
        return { inserted: outcome.inserted, duplicates: outcome.duplicates };
      } catch (thrown: unknown) {
        const error = coerceError(thrown);
        const failure = classifyFailure(error);
        deps.metrics?.jobFailures.inc({ code: failure.code ?? 'unknown' });
        if (!failure.retryable) {
          logger.error(
            { jobId, code: failure.code, err: error.message },
            `job failed: ${failure.reason}; not retrying`,
          );
          throw new UnrecoverableError(`${failure.reason}: ${error.message}`);
        }
        logger.warn(
          { jobId, attempt: job.attemptsMade + 1, code: failure.code, err: error.message },
          `job failed: ${failure.reason}; it will be retried with backoff`,
        );
        throw error;
      }
    },
    {
      connection,
      prefix: queue.bullPrefix,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      // A job whose worker keeps dying must not be failed for it: its events were accepted.
      maxStalledCount: config.JOB_ATTEMPTS,
      autorun: false,
    },
  );
  worker.on('failed', (job, error) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      logger.error({ jobId: job.id, err: error.message }, 'job failed for good; kept as failed in the queue');
    }
  });
  worker.on('stalled', (jobId) => logger.warn({ jobId }, 'job stalled (its worker died); handing it to another'));
  worker.on('error', (error) => logger.warn({ err: error.message }, 'worker error'));
  return worker;
}
