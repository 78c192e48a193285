import type { Config } from '@aggregator/common';
import type { JobsOptions } from 'bullmq';

/** The name of every queue job; a job carries one batch (see types.ts). */
export const BATCH_JOB_NAME = 'batch';

/**
 * Options of every batch job: retried with exponential backoff, removed once done (the store keeps
 * the events; Redis stays small), kept when its attempts are exhausted so nothing is dropped
 * silently (visible in /stats as `failed`).
 */
export function batchJobOptions(config: Config): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: false,
  };
}
