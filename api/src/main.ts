import cluster from 'node:cluster';
import { once } from 'node:events';
import type { Server } from 'node:http';
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
  waitReady,
} from '@aggregator/common';
import { createApp } from './createApp.js';
import { createHttpServer } from './http/httpServer.js';
import { QueuePublisher } from './publishing/batchPublisher.js';
import { CoalescingPublisher } from './publishing/coalescingPublisher.js';
import { openPartitionQueues } from './publishing/partitionQueues.js';
import { QueueDepthGuard } from './publishing/queueDepthGuard.js';
import { lazyStoreReader } from './reading/storeProvider.js';
import { subscribeToCommits } from './streams/commitSubscriber.js';
import { openStreamsOf } from './streams/openStreams.js';
import { StreamHub } from './streams/streamHub.js';

/** Entrypoint of one API replica: `node api/dist/main.js`. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: 'api', replica: config.REPLICA_ID });
  const resources = new Resources(logger);
  const keys = keysFromConfig(config);

  const redis = resources.add('redis', createRedis(config, 'request', `api:${config.REPLICA_ID}`), quitRedis);
  const metrics = createMetrics('api');
  observeRedis(redis, logger, () => metrics.redisErrors.inc());
  const queues = openPartitionQueues(keys, redis);
  for (const { partition, queue } of queues) {
    resources.add(`queue ${partition}`, queue, (q) => q.close());
    queue.on('error', (error) => logger.warn({ err: error.message, partition }, 'queue error'));
  }
  const store = resources.add(
    'store',
    lazyStoreReader(config, {
      onConnectionError: (error) => logger.warn({ err: error.message }, 'an idle store connection failed; replaced'),
    }),
    (s) => s.close(),
  );

  const hub = resources.add(
    'stream hub',
    new StreamHub(store, config.STREAM_POLL_MS, logger.child({ component: 'streams' })),
    (h) => h.close(),
  );
  resources.add(
    'commit subscriber',
    subscribeToCommits(config, keys, logger, (seq) => hub.notify(seq)),
    quitRedis,
  );
  const streams = openStreamsOf(config, metrics);

  // Start serving even when Redis is down (requests get 503s), but give it a moment first.
  await waitReady(redis, 2000).catch(() => logger.warn('Redis is not reachable yet; answering 503 until it is'));

  const readiness = { shuttingDown: false };
  const guard = new QueueDepthGuard(queues, config.MAX_QUEUE_DEPTH, logger);
  const app = createApp({
    config,
    logger,
    redis,
    queues,
    keys,
    store,
    readiness,
    guard,
    metrics,
    hub,
    streams,
    failpoints: parseFailpoints(config.AGGREGATOR_FAILPOINTS),
    publisher: new CoalescingPublisher(
      new QueuePublisher(queues, keys, redis, config, (j, e) => guard.recordEnqueued(j, e)),
      {
        maxInFlight: config.PUBLISH_MAX_IN_FLIGHT,
        lingerMs: config.PUBLISH_LINGER_MS,
        maxEvents: config.JOB_MAX_EVENTS,
      },
    ),
  });

  const server: Server = createHttpServer(config, app.callback(), logger);
  server.listen({ host: config.HOST, port: config.PORT });
  await once(server, 'listening');
  resources.add('http server', server, (s) => drain(s, config.SHUTDOWN_TIMEOUT_MS / 2));
  // Released before the server drains: streams never end on their own.
  resources.add('streams', streams, (s) => s.close());
  const address = server.address();
  logger.info({ address }, 'api listening');
  if (address && typeof address === 'object') announceReady({ service: 'api', address });

  // Under api/dist/cluster.js the primary sends SIGTERM; SIGINT from a terminal is ignored there.
  const signals: NodeJS.Signals[] = cluster.isWorker ? ['SIGTERM'] : ['SIGTERM', 'SIGINT'];
  handleSignals(
    logger,
    config.SHUTDOWN_TIMEOUT_MS,
    async () => {
      readiness.shuttingDown = true;
      await resources.close();
    },
    signals,
    // A replica's parent is the cluster primary; node's cluster module ends the replica when it goes.
    { withParent: !cluster.isWorker },
  );
}

/** Stops accepting, lets in-flight requests finish, then cuts what is left after `timeoutMs`. */
async function drain(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}

main().catch((e: unknown) => {
  process.stderr.write(`api failed to start: ${coerceError(e).stack}\n`);
  process.exit(1);
});
