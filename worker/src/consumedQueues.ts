import type { Config, Keys, QueueKeys } from '@aggregator/common';

/** The queues one worker replica consumes: every partition, or those of `WORKER_PARTITIONS`. */
export function consumedQueues(config: Pick<Config, 'WORKER_PARTITIONS'>, keys: Keys): QueueKeys[] {
  const wanted = config.WORKER_PARTITIONS;
  return wanted ? keys.queues.filter((q) => wanted.includes(q.partition)) : [...keys.queues];
}
