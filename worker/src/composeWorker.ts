import {
  type BatchJobData,
  type Config,
  coerceError,
  createLogger,
  createMetrics,
  createRedis,
  keysFromConfig,
  type Logger,
  observeRedis,
  parseFailpoints,
  type QueueKeys,
  quitRedis,
  type Redis,
  Resources,
  serveMetrics,
} from '@aggregator/common';
import { describeStore, type EventStoreWriter } from '@aggregator/store';
import type { Worker } from 'bullmq';
import { commitAnnouncer } from './announceCommits.js';
import { consumedQueues } from './consumedQueues.js';
import { createWorker } from './createWorker.js';
import { FastPath } from './fastPath.js';
import { type FastPathGeometry, readFastPathGeometry } from './fastPathBudget.js';
import { GroupCommitter } from './groupCommit.js';
import { HeadTicker } from './headTicker.js';
import { startHeartbeat } from './heartbeat.js';
import { startMaintenance } from './maintenance.js';
import { openStoreWithRetry } from './openStoreWithRetry.js';

/** What a test may change in the wiring of one worker replica; nothing else differs from production. */
export interface WorkerOverrides {
  /** The process's logger; by default one built from the configuration (`service: worker`). */
  logger?: Logger;
  /**
   * Called when a partition's BullMQ worker stops taking jobs for good. By default the replica
   * closes and the process exits 1: a worker that no longer takes jobs must not look alive (its
   * heartbeat, the health check).
   */
  onStopped?: (error: Error, partition: number) => void;
}

/** One BullMQ worker of the replica, on one partition's queue. */
export interface PartitionWorker {
  queue: QueueKeys;
  worker: Worker<BatchJobData>;
  fastPath: FastPath;
}

/** What a started replica holds. */
export interface StartedWorker {
  store: EventStoreWriter;
  redis: Redis;
  geometry: FastPathGeometry;
  workers: PartitionWorker[];
}

/** One worker replica, composed but not started: `close()` works from the start. */
export interface WorkerProcess {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * Opens the store (retrying while it is unreachable), Redis, the metrics server, maintenance,
   * the heartbeat and the visible head, then runs a BullMQ worker on each partition consumed.
   */
  start(): Promise<StartedWorker>;
  /** Lets active jobs finish, then releases everything in reverse order. Idempotent. */
  close(): Promise<void>;
}

/**
 * Composes one worker replica from its configuration. `main.ts` runs it; so does the in-process
 * test stack, so the tests run the group commit, the visible head and the commit announcements
 * that production runs.
 */
export function composeWorker(config: Config, overrides: WorkerOverrides = {}): WorkerProcess {
  const logger =
    overrides.logger ?? createLogger({ level: config.LOG_LEVEL, service: 'worker', replica: config.REPLICA_ID });
  const resources = new Resources(logger);
  const close = () => resources.close();
  const onStopped =
    overrides.onStopped ??
    ((error: Error, partition: number) => {
      logger.fatal({ err: error, partition }, 'worker stopped running; exiting');
      void close().finally(() => process.exit(1));
    });

  async function start(): Promise<StartedWorker> {
    const keys = keysFromConfig(config);
    const store = resources.add('store', await openStoreWithRetry(config, logger), (s) => s.close());
    const { store_id: storeId } = await store.readCounters();
    const redis = resources.add('redis', createRedis(config, 'blocking', `worker:${config.REPLICA_ID}`), quitRedis);
    const metrics = createMetrics('worker');
    // Before the first await, so the first 'ready' cannot be missed.
    observeRedis(redis, logger, () => metrics.redisErrors.inc());
    if (config.METRICS_PORT > 0) {
      try {
        const server = await serveMetrics(metrics, config.HOST, config.METRICS_PORT);
        resources.add('metrics server', server, (s) => new Promise((resolve) => s.close(resolve)));
      } catch (e: unknown) {
        logger.error(
          { err: coerceError(e).message, port: config.METRICS_PORT },
          'metrics server failed to start; continuing without it',
        );
      }
    }
    resources.add('maintenance', startMaintenance(store, redis, keys, logger), (stop) => stop());
    resources.add('heartbeat', startHeartbeat(redis, keys, config.REPLICA_ID, logger), (stop) => stop());

    // One BullMQ worker per partition consumed, sharing the store and its group commit.
    // Each commit prompts a step of the visible head, which announces itself when it moves.
    const headTicker = new HeadTicker(store, commitAnnouncer(redis, keys, logger), logger);
    resources.add('visible head', headTicker, (t) => t.stop());
    const committer = new GroupCommitter(store, () => headTicker.poke());
    const failpoints = parseFailpoints(config.AGGREGATOR_FAILPOINTS);
    const queues = consumedQueues(config, keys);
    const geometry = await readFastPathGeometry(redis, config, logger);
    metrics.fastPathBudget.set(geometry.budgetBytes * queues.length);
    const workers = queues.map((queue) => {
      const fastPath = new FastPath(redis, queue, geometry, metrics);
      const deps = { store, committer, keys, redis, fastPath, failpoints, metrics };
      const worker = createWorker(config, redis, deps, logger.child({ partition: queue.partition }), queue);
      return { queue, worker, fastPath };
    });
    // Closing lets active jobs finish; a job cut off by the timeout is retried by another worker.
    // All partitions at once: one after another, the later ones would keep taking new jobs while
    // the earlier ones drain, and the shutdown would grow with the number of partitions.
    resources.add('workers', workers, (all) => Promise.all(all.map(({ worker }) => worker.close())).then(() => {}));
    for (const { queue, worker } of workers) {
      worker.run().catch((e: unknown) => onStopped(coerceError(e), queue.partition));
    }
    logger.info(
      {
        store: describeStore(config),
        storeId,
        partitions: queues.map((q) => q.partition),
        concurrencyPerPartition: config.WORKER_CONCURRENCY,
        fastPath: geometry,
      },
      'worker started',
    );
    return { store, redis, geometry, workers };
  }

  return { config, logger, start, close };
}
