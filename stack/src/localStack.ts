import { join, resolve } from 'node:path';
import { isReadyMessage } from '@aggregator/common';
import type { ManagedChild } from './childProcess.js';
import { lockDataDir } from './dataDirLock.js';
import { type ListenAddress, localUrl } from './listenAddress.js';
import { type LocalPostgres, localPostgresDir, startLocalPostgres } from './localPostgres.js';
import { startPrivateRedis } from './privateRedis.js';
import { PRIVATE_DIR_MODE, privateDir } from './privateSecret.js';
import { type RedisCluster, startRedisCluster } from './redisCluster.js';
import { type RedisServer, redisLogLevel } from './redisServer.js';
import { startApi, startWorker } from './services.js';

export interface LocalStackOptions {
  /** API replicas sharing `port` (node cluster); 1 runs the plain entrypoint. */
  apis: number;
  workers: number;
  port: number;
  /** Interface the API listens on; loopback (127.0.0.1) unless asked otherwise. */
  host?: string;
  /** Where the SQLite file and the private Redis's AOF live. */
  dataDir: string;
  /** Use this Redis instead of starting a private one. */
  redisUrl?: string;
  /**
   * `single` (default): one private redis-server. `cluster`: a private Redis Cluster of 3 masters
   * with a replica each (AOF on every node), given to every process as REDIS_CLUSTER_NODES.
   */
  redis?: 'single' | 'cluster';
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
  /** A URL that reaches the API from this machine. */
  readonly url: string;
  /** Where the API listens, as it reported it. */
  readonly address: ListenAddress;
  readonly redisUrl: string;
  readonly redis: RedisServer | undefined;
  /** The private Redis Cluster, when `redis` is `cluster`. */
  readonly redisCluster: RedisCluster | undefined;
  /** The PostgreSQL store, when `store` is `postgres`. */
  readonly postgres: LocalPostgres | undefined;
  readonly api: ManagedChild;
  readonly workers: ManagedChild[];
  readonly env: Record<string, string>;
  addWorker(): Promise<ManagedChild>;
  /**
   * Stops workers, then the API, then the private Redis (which writes its AOF) and PostgreSQL;
   * then releases the data directory.
   */
  stop(): Promise<void>;
}

/**
 * The production topology as plain processes: a private `redis-server` (AOF on) unless a Redis
 * URL is given, `apis` API replicas on one port, and `workers` worker processes sharing one
 * SQLite file, or one PostgreSQL database (`store: 'postgres'`). Refuses (DataDirLockedError)
 * while another stack holds the data directory.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // The store, the Redis files and the secrets live here: the stack's user's only. Except that
  // root runs a private PostgreSQL as the "postgres" user, which must pass through (not list) it
  // to reach its own directory (0700, its own) inside.
  const postgresAsOtherUser = options.store === 'postgres' && !options.databaseUrl && process.getuid?.() === 0;
  const dataDir = privateDir(resolve(options.dataDir), postgresAsOtherUser ? 0o711 : PRIVATE_DIR_MODE);
  const note = (line: string) => {
    if (options.echo) process.stdout.write(`${line}\n`);
  };
  // Before anything else touches the directory.
  const lock = await lockDataDir(dataDir, note);
  const workers: ManagedChild[] = [];
  let redis: RedisServer | undefined;
  let redisCluster: RedisCluster | undefined;
  let postgres: LocalPostgres | undefined;
  try {
    // As quiet as the services (which read LOG_LEVEL from the same environment).
    const logLevel = redisLogLevel(options.env?.LOG_LEVEL ?? process.env.LOG_LEVEL);
    if (options.redis === 'cluster') {
      redisCluster = await startRedisCluster({ dir: join(dataDir, 'redis-cluster'), echo: options.echo, logLevel });
      for (const node of redisCluster.nodes) {
        if (node.child.pid) lock.record({ name: 'redis-server', pid: node.child.pid, stopsWithLauncher: false });
      }
    } else if (!options.redisUrl) {
      redis = await startPrivateRedis(privateDir(join(dataDir, 'redis')), options.echo, logLevel);
    }
    if (redis?.child.pid) lock.record({ name: 'redis-server', pid: redis.child.pid, stopsWithLauncher: false });
    // On a cluster REDIS_URL is ignored; it still names a node, for tools that take one URL.
    const redisUrl = redisCluster
      ? `redis://${redisCluster.seeds.split(',')[0]}`
      : (options.redisUrl ?? (redis as RedisServer).url);
    if (options.store === 'postgres') {
      postgres = await startLocalPostgres({
        databaseUrl: options.databaseUrl,
        dir: options.postgresDir ?? localPostgresDir(dataDir),
        echo: options.echo,
      });
      // A private server outlives a launcher that was SIGKILLed: the next start stops it, as it does
      // the redis-server, before starting its own on the same directory.
      const pid = postgres.server?.child.pid;
      if (pid) lock.record({ name: 'postgres', pid, stopsWithLauncher: false });
    }
    const host = options.host ?? '127.0.0.1';
    const env: Record<string, string> = {
      REDIS_URL: redisUrl,
      ...(redisCluster ? { REDIS_CLUSTER_NODES: redisCluster.seeds } : {}),
      ...(postgres ? { DATABASE_URL: postgres.url } : { SQLITE_PATH: join(dataDir, 'aggregator.db') }),
      HOST: host,
      PORT: String(options.port),
      API_REPLICAS: String(options.apis),
      ...options.env,
    };
    const started = (child: ManagedChild) => {
      if (child.pid) lock.record({ name: child.name, pid: child.pid, stopsWithLauncher: true });
      return child;
    };
    let counter = 0;
    const addWorker = async () => {
      const index = counter++;
      const child = await startWorker({
        name: `worker-${index}`,
        env: { ...env, REPLICA_ID: `worker-${index}` },
        echo: options.echo,
        nodeArgs: options.nodeArgs,
      });
      workers.push(started(child));
      return child;
    };
    // The first worker creates the store; the others and the API find it.
    await addWorker();
    await Promise.all(Array.from({ length: options.workers - 1 }, addWorker));
    const api = started(
      await startApi({
        name: 'api',
        env: { REPLICA_ID: 'api', ...env },
        cluster: options.apis > 1,
        echo: options.echo,
        nodeArgs: options.nodeArgs,
      }),
    );
    const address: ListenAddress = api.messages.find(isReadyMessage)?.address ?? { address: host, port: options.port };
    return {
      url: localUrl(address),
      address,
      redisUrl,
      redis,
      redisCluster,
      postgres,
      api,
      workers,
      env,
      addWorker,
      async stop() {
        await Promise.all(workers.map((w) => w.stop()));
        await api.stop();
        await Promise.all([redis?.stop(), redisCluster?.stop(), postgres?.stop()]);
        lock.release();
      },
    };
  } catch (e) {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([redis?.stop(), redisCluster?.stop(), postgres?.stop()]);
    lock.release();
    throw e;
  }
}
