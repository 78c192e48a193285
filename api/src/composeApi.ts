import { once } from 'node:events';
import type { Server } from 'node:http';
import {
  type Config,
  coerceError,
  createLogger,
  createMetrics,
  createRedis,
  type Keys,
  keysFromConfig,
  type Logger,
  type Metrics,
  observeRedis,
  parseFailpoints,
  quitRedis,
  type Redis,
  Resources,
  waitReady,
} from '@aggregator/common';
import type Koa from 'koa';
import { createApp } from './createApp.js';
import { createHttpServer } from './http/httpServer.js';
import type { RequestState } from './http/requestId.js';
import type { Readiness } from './operations/healthRoutes.js';
import { QueuePublisher } from './publishing/batchPublisher.js';
import { CoalescingPublisher } from './publishing/coalescingPublisher.js';
import { openPartitionQueues, type PartitionQueue } from './publishing/partitionQueues.js';
import { QueueDepthGuard } from './publishing/queueDepthGuard.js';
import { lazyStoreReader, type StoreProvider } from './reading/storeProvider.js';
import { subscribeToCommits } from './streams/commitSubscriber.js';
import { type OpenStreams, openStreamsOf } from './streams/openStreams.js';
import { StreamHub } from './streams/streamHub.js';

/** What a test may change in the wiring of one API replica; nothing else differs from production. */
export interface ApiOverrides {
  /** The process's logger; by default one built from the configuration (`service: api`). */
  logger?: Logger;
}

/** One API replica, composed: the Koa app and everything it holds, not yet listening. */
export interface ApiProcess {
  readonly config: Config;
  readonly logger: Logger;
  readonly keys: Keys;
  /** The connection requests use (queues, counters, readiness). */
  readonly redis: Redis;
  readonly queues: PartitionQueue[];
  readonly store: StoreProvider;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  readonly streams: OpenStreams;
  readonly app: Koa<RequestState>;
  /** Listens on `HOST:PORT`; the server then drains on `close()`. */
  listen(): Promise<Server>;
  /** Marks the replica not ready, ends its streams, drains the server, then releases the rest. Idempotent. */
  close(): Promise<void>;
}

/**
 * Composes one API replica from its configuration: the Redis connection, a queue per partition,
 * the store reader, the streams (hub, commit subscriber, limits), the coalescing publisher and the
 * Koa app. `main.ts` runs it; so do the in-process test stack and anything else that needs the
 * API as users run it.
 *
 * Serving starts even when Redis is down (requests get 503s until it is back), after a moment to
 * let the connection come up.
 */
export async function composeApi(config: Config, overrides: ApiOverrides = {}): Promise<ApiProcess> {
  const logger =
    overrides.logger ?? createLogger({ level: config.LOG_LEVEL, service: 'api', replica: config.REPLICA_ID });
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

  await waitReady(redis, 2000).catch(() => logger.warn('Redis is not reachable yet; answering 503 until it is'));

  const readiness: Readiness = { shuttingDown: false };
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

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    keys,
    redis,
    queues,
    store,
    metrics,
    readiness,
    streams,
    app,
    async listen() {
      const server = createHttpServer(config, app.callback(), logger);
      server.listen({ host: config.HOST, port: config.PORT });
      await once(server, 'listening');
      resources.add('http server', server, (s) => drain(s, config.SHUTDOWN_TIMEOUT_MS / 2));
      return server;
    },
    close() {
      closing ??= (async () => {
        readiness.shuttingDown = true;
        // Before the server drains: streams never end on their own.
        await streams
          .close()
          .catch((e: unknown) => logger.error({ err: coerceError(e) }, 'ending the streams failed; continuing'));
        await resources.close();
      })();
      return closing;
    },
  };
}

/** Stops accepting, lets in-flight requests finish, then cuts what is left after `timeoutMs`. */
async function drain(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
