import type { BatchJobData, Keys, QueueKeys, Redis } from '@aggregator/common';
import { Queue } from 'bullmq';

/** The BullMQ queue of one partition. */
export interface PartitionQueue {
  readonly partition: number;
  readonly queue: Queue<BatchJobData>;
}

/** Jobs of one partition by state. */
export interface PartitionCounts {
  partition: number;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** Opens the queue of every partition (or of `which`) on one connection; close each queue. */
export function openPartitionQueues(
  keys: Keys,
  connection: Redis,
  which: readonly QueueKeys[] = keys.queues,
): PartitionQueue[] {
  return which.map((q) => ({
    partition: q.partition,
    queue: new Queue<BatchJobData>(q.queueName, { connection, prefix: q.bullPrefix }),
  }));
}

/**
 * Counts the jobs of every partition (one script call per queue, each in its own slot). Paused
 * and prioritized jobs count as waiting.
 */
export function countPartitionJobs(queues: readonly PartitionQueue[]): Promise<PartitionCounts[]> {
  return Promise.all(
    queues.map(async ({ partition, queue }) => {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'paused');
      return {
        partition,
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
      };
    }),
  );
}

/** The sum of the partitions' counts. */
export function sumCounts(counts: readonly PartitionCounts[]): Omit<PartitionCounts, 'partition'> {
  const total = { waiting: 0, active: 0, delayed: 0, failed: 0 };
  for (const c of counts) {
    total.waiting += c.waiting;
    total.active += c.active;
    total.delayed += c.delayed;
    total.failed += c.failed;
  }
  return total;
}
