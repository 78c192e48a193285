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
  /** The shared API address; with `distinctApiPorts`, the address of the first API started. */
  apiUrl: string;
  /** The address of each API, at the index of its process in `apis`. */
  apiUrls: string[];
  apis: ManagedChild[];
  workers: ManagedChild[];
  startApi(extraEnv?: Record<string, string>): Promise<ManagedChild>;
  /**
   * Starts a new process in place of `apis[index]` (stopped first if it still runs), on the same
   * port, so producers find the replica at the same address again.
   */
  restartApi(index: number, extraEnv?: Record<string, string>): Promise<ManagedChild>;
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
  /** Give each API process a port of its own (see `apiUrls`) instead of one shared port. */
  distinctApiPorts?: boolean;
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
      // Tests read the processes' info lines, whatever LOG_LEVEL the shell running them has.
      LOG_LEVEL: 'info',
      ...options.env,
    };
    const apis: ManagedChild[] = [];
    const apiUrls: string[] = [];
    const apiPorts: number[] = [];
    const workers: ManagedChild[] = [];
    const urlOf = (p: number) => `http://127.0.0.1:${p}`;
    let apiCount = 0;
    let workerCount = 0;
    const launchApi = (p: number, extraEnv: Record<string, string>) => {
      const index = apiCount++;
      return startApi({
        name: `api-${index}`,
        env: { ...env, PORT: String(p), REPLICA_ID: `api-${index}`, ...extraEnv },
      });
    };
    /** Stats and settle ask a running API, so they keep working while a replica is down. */
    const defaultUrl = () => apiUrls[apis.findIndex((a) => a.running)] ?? stack.apiUrl;
    const stack: ProcessStack = {
      dir,
      env,
      get redis() {
        return redis;
      },
      apiUrl: urlOf(port),
      apiUrls,
      apis,
      workers,
      async startApi(extraEnv = {}) {
        const p = options.distinctApiPorts && apis.length > 0 ? await freePort() : port;
        const child = await launchApi(p, extraEnv);
        apis.push(child);
        apiPorts.push(p);
        apiUrls.push(urlOf(p));
        return child;
      },
      async restartApi(index, extraEnv = {}) {
        const old = apis[index];
        const p = apiPorts[index];
        if (!old || p === undefined) throw new Error(`no API at index ${index}`);
        await old.stop();
        const child = await launchApi(p, extraEnv);
        apis[index] = child;
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
      publish(body, url = defaultUrl()) {
        return fetch(`${url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      },
      async stats(url = defaultUrl()) {
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
