import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiProcess, composeApi, type PartitionQueue, type Stats } from '@aggregator/api';
import {
  type BatchJobData,
  type Config,
  createLogger,
  createRedis,
  type Event,
  type Keys,
  loadConfig,
  quitRedis,
  type Redis,
  waitReady,
} from '@aggregator/common';
import { openStoreWriter } from '@aggregator/store';
import { composeWorker, FastPath, readFastPathGeometry, type WorkerProcess } from '@aggregator/worker';
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
 * unique prefix and a temp SQLite file; everything is released when `fn` ends. Both are composed
 * by the functions their entrypoints call (`composeApi`, `composeWorker`): the coalescing
 * publisher, the commit subscriber, the visible head, the heartbeat, as users run them. Each
 * worker is a replica of its own (`REPLICA_ID` `<id>-w<n>`) with its own store connection.
 */
export async function withStack<T>(
  options: { workers?: number; env?: Record<string, string> },
  fn: (stack: InProcessStack) => Promise<T>,
): Promise<T> {
  return withTempDir(async (dir) => {
    const config = testConfig(dir, options.env);
    const logger = createLogger({ level: 'silent', service: 'test', replica: 'test', pretty: false });
    // The tests' own connection, for the fast path as the workers have it.
    const testRedis = createRedis(config, 'blocking', 'test-fast-path');
    const replicas: WorkerProcess[] = [];
    const stopped: string[] = [];
    let api: ApiProcess | undefined;
    try {
      // The store as a worker that ran before created it: with `workers: 0` too, /stats and the
      // reads have a store to answer from.
      await (await openStoreWriter(config)).close();
      api = await composeApi(config, { logger });
      const { keys, redis, queues } = api;
      await Promise.all([waitReady(redis, 5000), waitReady(testRedis, 5000)]);
      const geometry = await readFastPathGeometry(testRedis, config, logger);
      const fastPathOf = (topic: string) => new FastPath(testRedis, keys.queue(keys.partitionOf(topic)), geometry);
      const callback = api.app.callback();
      const request = (opts: InjectOptions) => inject(callback, opts);
      const stats = async () => (await request({ method: 'GET', url: '/stats' })).json() as Stats;
      const startWorker = async () => {
        const replica = composeWorker(
          { ...config, REPLICA_ID: `${config.REPLICA_ID}-w${replicas.length + 1}` },
          {
            logger,
            // Not process.exit: the test fails when it ends (below).
            onStopped: (error, partition) => stopped.push(`partition ${partition}: ${error.message}`),
          },
        );
        replicas.push(replica);
        const { workers } = await replica.start();
        await Promise.all(workers.map(({ worker }) => worker.waitUntilReady()));
        return workers.map(({ worker }) => worker);
      };
      for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();
      const result = await fn({
        config,
        keys,
        redis,
        queue: (queues[0] as PartitionQueue).queue,
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
      if (stopped.length > 0) throw new Error(`a worker stopped running: ${stopped.join('; ')}`);
      return result;
    } finally {
      // Workers first, as a deployment stops: they finish their jobs while the API still holds Redis.
      await Promise.all([...replicas.map((r) => r.close()), quitRedis(testRedis)]).finally(() => api?.close());
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
