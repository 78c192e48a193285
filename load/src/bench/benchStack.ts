import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@aggregator/common';
import { freePort, startLocalStack } from '@aggregator/stack';
import { openStoreReader } from '@aggregator/store';
import { openRedisNodes } from './redisNodes.js';
import type { Bench } from './runMode.js';

export interface BenchStackOptions {
  apis: number;
  workers: number;
  store: 'sqlite' | 'postgres';
  /** One private redis-server, or a private 3-master + 3-replica Redis Cluster. */
  redis: 'single' | 'cluster';
  /** QUEUE_PARTITIONS of every process. */
  partitions: number;
  /** REDIS_WAIT_REPLICAS of every process (0 by default). */
  waitReplicas?: number;
  /** Write a V8 CPU profile of every service process into this directory. */
  profile?: string;
}

/**
 * Starts a fresh stack in a temp directory (its own Redis, store, API and workers), opens a reader
 * of its store and a CPU sampler of its redis-servers, runs `fn`, then stops and removes all of it.
 */
export async function withBenchStack<T>(
  options: BenchStackOptions,
  fn: (bench: Bench, dir: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'aggregator-bench-'));
  try {
    // A private PostgreSQL runs as the "postgres" user when we are root: it must enter the directory.
    if (options.store === 'postgres') chmodSync(dir, 0o755);
    const stack = await startLocalStack({
      apis: options.apis,
      workers: options.workers,
      port: await freePort(),
      dataDir: dir,
      store: options.store,
      redis: options.redis,
      databaseUrl: process.env.DATABASE_URL || undefined,
      env: { QUEUE_PARTITIONS: String(options.partitions), REDIS_WAIT_REPLICAS: String(options.waitReplicas ?? 0) },
      nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`] : undefined,
    });
    try {
      const store = await openStoreReader(loadConfig({ ...stack.env, DATABASE_POOL_SIZE: '2' }));
      try {
        const redisNodes = await openRedisNodes(stack);
        try {
          return await fn({ stack, store, redisNodes }, dir);
        } finally {
          redisNodes.close();
        }
      } finally {
        await store.close();
      }
    } finally {
      await stack.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
