import { join, resolve } from 'node:path';
import type { ManagedChild } from './childProcess.js';
import { type LocalPostgres, localPostgresDir, startLocalPostgres } from './localPostgres.js';
import { type RedisServer, startRedisServer } from './redisServer.js';
import { startApi, startWorker } from './services.js';

export interface LocalStackOptions {
  /** API replicas sharing `port` (node cluster); 1 runs the plain entrypoint. */
  apis: number;
  workers: number;
  port: number;
  /** Where the SQLite file and the private Redis's AOF live. */
  dataDir: string;
  /** Use this Redis instead of starting a private one. */
  redisUrl?: string;
  /**
   * `sqlite` (default): one file under `dataDir`. `postgres`: `databaseUrl` if given, else a
   * private PostgreSQL whose cluster lives under `dataDir` (`postgresDir` to put it elsewhere).
   */
  store?: 'sqlite' | 'postgres';
  databaseUrl?: string;
  postgresDir?: string;
  /** More configuration for every process. */
  env?: Record<string, string>;
  echo?: boolean;
  /** Extra node flags for every service process, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

export interface LocalStack {
  readonly url: string;
  readonly redisUrl: string;
  readonly redis: RedisServer | undefined;
  /** The PostgreSQL store, when `store` is `postgres`. */
  readonly postgres: LocalPostgres | undefined;
  readonly api: ManagedChild;
  readonly workers: ManagedChild[];
  readonly env: Record<string, string>;
  addWorker(): Promise<ManagedChild>;
  /** Stops workers, then the API, then the private Redis (which writes its AOF) and PostgreSQL. */
  stop(): Promise<void>;
}

/**
 * The production topology as plain processes: a private `redis-server` (AOF on) unless a Redis
 * URL is given, `apis` API replicas on one port, and `workers` worker processes sharing one
 * SQLite file, or one PostgreSQL database (`store: 'postgres'`).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir);
  const redis = options.redisUrl
    ? undefined
    : await startRedisServer({ dir: join(dataDir, 'redis'), echo: options.echo });
  const redisUrl = options.redisUrl ?? (redis as RedisServer).url;
  const postgres =
    options.store === 'postgres'
      ? await startLocalPostgres({
          databaseUrl: options.databaseUrl,
          dir: options.postgresDir ?? localPostgresDir(dataDir),
          echo: options.echo,
        }).catch(async (e: unknown) => {
          await redis?.stop();
          throw e;
        })
      : undefined;
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    ...(postgres ? { DATABASE_URL: postgres.url } : { SQLITE_PATH: join(dataDir, 'aggregator.db') }),
    PORT: String(options.port),
    API_REPLICAS: String(options.apis),
    ...options.env,
  };
  const workers: ManagedChild[] = [];
  let counter = 0;
  const addWorker = async () => {
    const index = counter++;
    const child = await startWorker({
      name: `worker-${index}`,
      env: { ...env, REPLICA_ID: `worker-${index}` },
      echo: options.echo,
      nodeArgs: options.nodeArgs,
    });
    workers.push(child);
    return child;
  };
  try {
    // The first worker creates the store; the others and the API find it.
    await addWorker();
    await Promise.all(Array.from({ length: options.workers - 1 }, addWorker));
    const api = await startApi({
      name: 'api',
      env: { REPLICA_ID: 'api', ...env },
      cluster: options.apis > 1,
      echo: options.echo,
      nodeArgs: options.nodeArgs,
    });
    return {
      url: `http://127.0.0.1:${options.port}`,
      redisUrl,
      redis,
      postgres,
      api,
      workers,
      env,
      addWorker,
      async stop() {
        await Promise.all(workers.map((w) => w.stop()));
        await api.stop();
        await Promise.all([redis?.stop(), postgres?.stop()]);
      },
    };
  } catch (e) {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([redis?.stop(), postgres?.stop()]);
    throw e;
  }
}
