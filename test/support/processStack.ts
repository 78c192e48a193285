import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Stats } from '@aggregator/api';
import {
  freePort,
  type ManagedChild,
  type RedisServer,
  startApi,
  startRedisServer,
  startWorker,
} from '@aggregator/load';
import { waitUntil } from './waitUntil.js';
import { withTempDir } from './withStack.js';

/**
 * The real entrypoints as child processes, with a redis-server of the test's own (so the test may
 * kill, restart or wipe it). Everything is stopped when `fn` ends.
 */
export interface ProcessStack {
  dir: string;
  env: Record<string, string>;
  redis: RedisServer;
  apiUrl: string;
  apis: ManagedChild[];
  workers: ManagedChild[];
  startApi(extraEnv?: Record<string, string>): Promise<ManagedChild>;
  startWorker(extraEnv?: Record<string, string>): Promise<ManagedChild>;
  /** Starts a new redis-server on the same port (with the same data directory when persistent). */
  restartRedis(): Promise<void>;
  publish(body: unknown, apiUrl?: string): Promise<Response>;
  stats(apiUrl?: string): Promise<Stats>;
  settle(count: number): Promise<Stats>;
}

export interface ProcessStackOptions {
  workers?: number;
  apis?: number;
  /** Redis with AOF in the temp dir (survives restarts) instead of no persistence. */
  persistentRedis?: boolean;
  env?: Record<string, string>;
}

export async function withProcessStack<T>(
  options: ProcessStackOptions,
  fn: (stack: ProcessStack) => Promise<T>,
): Promise<T> {
  return withTempDir(async (dir) => {
    const redisDir = options.persistentRedis ? join(dir, 'redis') : undefined;
    let redis = await startRedisServer({ dir: redisDir });
    const port = await freePort();
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: `p-${randomUUID().slice(0, 8)}`,
      SQLITE_PATH: join(dir, 'aggregator.db'),
      JOB_BACKOFF_MS: '100',
      WORKER_LOCK_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...options.env,
    };
    const apis: ManagedChild[] = [];
    const workers: ManagedChild[] = [];
    const apiUrl = `http://127.0.0.1:${port}`;
    let apiCount = 0;
    let workerCount = 0;
    const stack: ProcessStack = {
      dir,
      env,
      get redis() {
        return redis;
      },
      apiUrl,
      apis,
      workers,
      async startApi(extraEnv = {}) {
        const index = apiCount++;
        const child = await startApi({
          name: `api-${index}`,
          env: { ...env, PORT: String(port), REPLICA_ID: `api-${index}`, ...extraEnv },
        });
        apis.push(child);
        return child;
      },
      async startWorker(extraEnv = {}) {
        const index = workerCount++;
        const child = await startWorker({
          name: `worker-${index}`,
          env: { ...env, REPLICA_ID: `worker-${index}`, ...extraEnv },
        });
        workers.push(child);
        return child;
      },
      async restartRedis() {
        if (redis.child.running) await redis.stop();
        redis = await startRedisServer({ dir: redisDir, port: redis.port });
      },
      publish(body, url = apiUrl) {
        return fetch(`${url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      },
      async stats(url = apiUrl) {
        const res = await fetch(`${url}/stats`);
        if (res.status !== 200) throw new Error(`/stats answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as Stats;
      },
      settle(count) {
        return waitUntil(
          async () => {
            const s = await stack.stats();
            return s.received === count && s.queue.waiting + s.queue.active + s.queue.delayed === 0 && s;
          },
          { what: `received == ${count}`, timeoutMs: 30_000 },
        );
      },
    };
    try {
      for (let i = 0; i < (options.workers ?? 1); i++) await stack.startWorker();
      for (let i = 0; i < (options.apis ?? 1); i++) await stack.startApi();
      return await fn(stack);
    } finally {
      await Promise.all([...workers, ...apis].map((c) => c.stop()));
      await redis.stop();
    }
  });
}
