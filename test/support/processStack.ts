import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Stats } from '@aggregator/api';
import { createRedis, quitRedis, waitReady } from '@aggregator/common';
import {
  freePort,
  type ManagedChild,
  type RedisServer,
  startApi,
  startRedisServer,
  startWorker,
} from '@aggregator/stack';
import { type RedisClusterFixture, withRedisCluster } from './redisCluster.js';
import { waitUntil } from './waitUntil.js';
import { withTempDir } from './withStack.js';

/**
 * The real entrypoints as child processes, with a Redis of the test's own (so the test may kill,
 * restart or wipe it): one redis-server, or with `redis: 'cluster'` a Redis Cluster of 3 masters and
 * 3 replicas. Everything is stopped when `fn` ends.
 */
export interface ProcessStack {
  dir: string;
  env: Record<string, string>;
  /** The redis-server of a `redis: 'single'` stack (throws on a cluster stack: see `cluster`). */
  redis: RedisServer;
  /** The Redis Cluster of a `redis: 'cluster'` stack; undefined on one redis-server. */
  cluster: RedisClusterFixture | undefined;
  /**
   * The shared API address; with `distinctApiPorts`, the address of the first API launched (the
   * APIs of the set-up start together, so `apis` and `apiUrls` list them in the order they came up).
   */
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
  /** Wipes Redis while it runs: FLUSHALL on the server, or on every master of the cluster. */
  flushRedis(): Promise<void>;
  publish(body: unknown, apiUrl?: string): Promise<Response>;
  stats(apiUrl?: string): Promise<Stats>;
  settle(count: number): Promise<Stats>;
}

export interface ProcessStackOptions {
  workers?: number;
  apis?: number;
  /**
   * One redis-server (the default), or a Redis Cluster of 3 masters and 3 replicas with the queue
   * in `QUEUE_PARTITIONS=4` partitions (unless `env` says otherwise), so they spread over the shards.
   */
  redis?: 'single' | 'cluster';
  /** Redis with AOF in the temp dir (survives restarts) instead of no persistence. */
  persistentRedis?: boolean;
  /** Give each API process a port of its own (see `apiUrls`) instead of one shared port. */
  distinctApiPorts?: boolean;
  env?: Record<string, string>;
}

export function withProcessStack<T>(options: ProcessStackOptions, fn: (stack: ProcessStack) => Promise<T>): Promise<T> {
  if (options.redis !== 'cluster') return withTempDir((dir) => withProcesses(dir, undefined, options, fn));
  return withRedisCluster((cluster) => withTempDir((dir) => withProcesses(dir, cluster, options, fn)));
}

async function withProcesses<T>(
  dir: string,
  cluster: RedisClusterFixture | undefined,
  options: ProcessStackOptions,
  fn: (stack: ProcessStack) => Promise<T>,
): Promise<T> {
  const redisDir = options.persistentRedis ? join(dir, 'redis') : undefined;
  let redis = cluster ? undefined : await startRedisServer({ dir: redisDir });
  /** The redis-server of a single-Redis stack, for the methods that only make sense there. */
  const server = () => {
    if (!redis) throw new Error('this stack runs on a Redis Cluster: use stack.cluster');
    return redis;
  };
  const port = await freePort();
  const env: Record<string, string> = {
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.seeds, QUEUE_PARTITIONS: '4' } : { REDIS_URL: server().url }),
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
  let apiStarts = 0;
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
      return server();
    },
    cluster,
    apiUrl: urlOf(port),
    apiUrls,
    apis,
    workers,
    async startApi(extraEnv = {}) {
      // Counted before any await: APIs started together must not all take the first port.
      const first = apiStarts++ === 0;
      const p = options.distinctApiPorts && !first ? await freePort() : port;
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
      const old = server();
      if (old.child.running) await old.stop();
      redis = await startRedisServer({ dir: redisDir, port: old.port });
    },
    async flushRedis() {
      if (cluster) {
        for (const master of await cluster.masters()) await cluster.cli(master, 'flushall');
        return;
      }
      const admin = createRedis(server().url, 'request', 'test-flush');
      try {
        await waitReady(admin, 5000);
        await admin.flushall();
      } finally {
        await quitRedis(admin);
      }
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
    await startAll(stack, options.workers ?? 1, options.apis ?? 1);
    return await fn(stack);
  } finally {
    await Promise.all([...workers, ...apis].map((c) => c.stop()));
    await redis?.stop();
  }
}

/**
 * Starts the first worker (it creates the store), then the other workers, in parallel with the
 * APIs (they open the store lazily). Each process spends about a second of CPU loading its modules,
 * so on two cores this halves the set-up of a cluster. Every start is awaited, even after a failure,
 * so no process is left out of `workers`/`apis` and the caller's `finally` stops them all.
 */
async function startAll(stack: ProcessStack, workers: number, apis: number): Promise<void> {
  const settle = async (starts: Array<() => Promise<unknown>>) => {
    const failure = (await Promise.allSettled(starts.map((start) => start()))).find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  };
  const startWorkers = async () => {
    if (workers === 0) return;
    await stack.startWorker();
    await settle(Array.from({ length: workers - 1 }, () => () => stack.startWorker()));
  };
  await settle([startWorkers, ...Array.from({ length: apis }, () => () => stack.startApi())]);
}
