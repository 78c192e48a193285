import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createApp,
  lazyStoreReader,
  openPartitionQueues,
  openStreamsOf,
  type PartitionQueue,
  QueueDepthGuard,
  QueuePublisher,
  type Stats,
  StreamHub,
} from '@aggregator/api';
import {
  type BatchJobData,
  type Config,
  createLogger,
  createMetrics,
  createRedis,
  type Event,
  type Keys,
  keysFromConfig,
  loadConfig,
  parseFailpoints,
  quitRedis,
  type Redis,
  waitReady,
} from '@aggregator/common';
import { openStoreWriter } from '@aggregator/store';
import {
  commitAnnouncer,
  consumedQueues,
  createWorker,
  FastPath,
  GroupCommitter,
  readFastPathGeometry,
} from '@aggregator/worker';
import type { Queue, Worker } from 'bullmq';
import inject, { type InjectOptions, type Response } from 'light-my-request';
import { waitUntil } from './waitUntil.js';

/** A temp directory for the duration of `fn`. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'aggregator-test-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through mocha (test/support/hooks.ts)');
  return url;
}

/** A configuration of its own for one test: a unique Redis prefix and a temp SQLite file. */
export function testConfig(dir: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: `t-${randomUUID().slice(0, 8)}`,
    SQLITE_PATH: join(dir, 'aggregator.db'),
    LOG_LEVEL: 'silent',
    JOB_BACKOFF_MS: '50',
    ...overrides,
  });
}

export interface InProcessStack {
  config: Config;
  keys: Keys;
  redis: Redis;
  /** Partition 0's queue (the only one unless QUEUE_PARTITIONS is set). */
  queue: Queue<BatchJobData>;
  queues: PartitionQueue[];
  /** Sends a request to the API's Koa callback (no port). */
  request(options: InjectOptions): Promise<Response>;
  publish(body: unknown): Promise<Response>;
  stats(): Promise<Stats>;
  /** Waits until `received` reaches `count` and the queue is empty, then returns the stats. */
  settle(count: number): Promise<Stats>;
  /** Starts one worker replica: a BullMQ worker on each partition it consumes. */
  startWorker(): Promise<Worker<BatchJobData>[]>;
  /** The fast path of a topic's partition, as the workers have it. */
  fastPathOf(topic: string): FastPath;
}

/**
 * An API app and (unless `workers: 0`) one worker in this process, on the shared test Redis with a
 * unique prefix and a temp SQLite file; everything is released when `fn` ends.
 */
export async function withStack<T>(
  options: { workers?: number; env?: Record<string, string> },
  fn: (stack: InProcessStack) => Promise<T>,
): Promise<T> {
  return withTempDir(async (dir) => {
    const config = testConfig(dir, options.env);
    const keys = keysFromConfig(config);
    const logger = createLogger({ level: 'silent', service: 'test', replica: 'test', pretty: false });
    const apiRedis = createRedis(config, 'request', 'test-api');
    const workerRedis = createRedis(config, 'blocking', 'test-worker');
    const queues = openPartitionQueues(keys, apiRedis);
    const queue = (queues[0] as PartitionQueue).queue;
    const storeWriter = await openStoreWriter(config);
    const storeReader = lazyStoreReader(config);
    const workers: Worker<BatchJobData>[] = [];
    try {
      await Promise.all([waitReady(apiRedis, 5000), waitReady(workerRedis, 5000)]);
      // As worker/src/main.ts: the fast path's budget from the configuration and Redis' maxmemory.
      const geometry = await readFastPathGeometry(workerRedis, config, logger);
      const fastPathOf = (topic: string) => new FastPath(workerRedis, keys.queue(keys.partitionOf(topic)), geometry);
      const guard = new QueueDepthGuard(queues, config.MAX_QUEUE_DEPTH, logger);
      const metrics = createMetrics('api');
      const app = createApp({
        config,
        logger,
        redis: apiRedis,
        queues,
        keys,
        store: storeReader,
        readiness: { shuttingDown: false },
        guard,
        metrics,
        hub: new StreamHub(storeReader, config.STREAM_POLL_MS, logger),
        streams: openStreamsOf(config, metrics),
        publisher: new QueuePublisher(queues, keys, apiRedis, config, (jobs, events) =>
          guard.recordEnqueued(jobs, events),
        ),
      });
      const callback = app.callback();
      const request = (opts: InjectOptions) => inject(callback, opts);
      const stats = async () => (await request({ method: 'GET', url: '/stats' })).json() as Stats;
      const startWorker = async () => {
        // As worker/src/main.ts: each commit is announced to the streams.
        const committer = new GroupCommitter(storeWriter, commitAnnouncer(workerRedis, keys, logger));
        const replica = consumedQueues(config, keys).map((q) =>
          createWorker(
            config,
            workerRedis,
            {
              store: storeWriter,
              committer,
              keys,
              redis: workerRedis,
              fastPath: new FastPath(workerRedis, q, geometry),
              failpoints: parseFailpoints(undefined),
            },
            logger,
            q,
          ),
        );
        workers.push(...replica);
        for (const worker of replica) void worker.run();
        await Promise.all(replica.map((w) => w.waitUntilReady()));
        return replica;
      };
      for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();
      return await fn({
        config,
        keys,
        redis: apiRedis,
        queue,
        queues,
        request,
        publish: (body) =>
          request({
            method: 'POST',
            url: '/publish',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          }),
        stats,
        settle: (count) =>
          waitUntil(
            async () => {
              const s = await stats();
              return s.received === count && s.queue.waiting + s.queue.active + s.queue.delayed === 0 && s;
            },
            { what: `received == ${count}` },
          ),
        startWorker,
        fastPathOf,
      });
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.queue.close()));
      await Promise.all([quitRedis(apiRedis), quitRedis(workerRedis)]);
      await storeReader.close();
      await storeWriter.close();
    }
  });
}

let sequence = 0;

/** A valid event; `overrides` replace fields. */
export function makeEvent(overrides: Partial<Event> = {}): Event {
  sequence++;
  return {
    topic: 'orders',
    event_id: `e-${sequence}-${randomUUID()}`,
    timestamp: '2025-01-31T12:00:00Z',
    source: 'test',
    payload: { n: sequence },
    ...overrides,
  };
}
