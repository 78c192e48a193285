import {
  announceReady,
  coerceError,
  createLogger,
  createMetrics,
  createRedis,
  handleSignals,
  keysFromConfig,
  loadConfigOrExit,
  observeRedis,
  parseFailpoints,
  quitRedis,
  Resources,
  serveMetrics,
} from '@aggregator/common';
import { describeStore } from '@aggregator/store';
import { commitAnnouncer } from './announceCommits.js';
import { consumedQueues } from './consumedQueues.js';
import { createWorker } from './createWorker.js';
import { FastPath } from './fastPath.js';
import { readFastPathGeometry } from './fastPathBudget.js';
import { GroupCommitter } from './groupCommit.js';
import { HeadTicker } from './headTicker.js';
import { startHeartbeat } from './heartbeat.js';
import { startMaintenance } from './maintenance.js';
import { openStoreWithRetry } from './openStoreWithRetry.js';

/** Entrypoint of one worker replica: `node worker/dist/main.js`. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: 'worker', replica: config.REPLICA_ID });
  const resources = new Resources(logger);
  const keys = keysFromConfig(config);
  // From the start: opening the store may retry for as long as PostgreSQL is down, and a signal
  // (or the loss of the launcher) must stop the worker then too.
  handleSignals(logger, config.SHUTDOWN_TIMEOUT_MS, () => resources.close());

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
    return { queue, worker: createWorker(config, redis, deps, logger.child({ partition: queue.partition }), queue) };
  });
  // Closing lets active jobs finish; a job cut off by the timeout is retried by another worker.
  // All partitions at once: one after another, the later ones would keep taking new jobs while
  // the earlier ones drain, and the shutdown would grow with the number of partitions.
  resources.add('workers', workers, (all) => Promise.all(all.map(({ worker }) => worker.close())).then(() => {}));
  for (const { queue, worker } of workers) {
    worker.run().catch((e: unknown) => {
      // A worker that no longer takes jobs must not look alive (heartbeat, health check): exit.
      logger.fatal({ err: coerceError(e), partition: queue.partition }, 'worker stopped running; exiting');
      void resources.close().finally(() => process.exit(1));
    });
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
  announceReady({ service: 'worker' });
}

main().catch((e: unknown) => {
  process.stderr.write(`worker failed to start: ${coerceError(e).stack}\n`);
  process.exit(1);
});
