import { join, resolve } from 'node:path';
import { isReadyMessage } from '@aggregator/common';
import type { ManagedChild } from './childProcess.js';
import { lockDataDir } from './dataDirLock.js';
import { type ListenAddress, localUrl } from './listenAddress.js';
import { type RedisServer, redisLogLevel, startRedisServer } from './redisServer.js';
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
  readonly api: ManagedChild;
  readonly workers: ManagedChild[];
  readonly env: Record<string, string>;
  addWorker(): Promise<ManagedChild>;
  /** Stops workers, then the API, then the private Redis (which writes its AOF); then releases the data directory. */
  stop(): Promise<void>;
}

/**
 * The production topology as plain processes: a private `redis-server` (AOF on) unless a Redis
 * URL is given, `apis` API replicas on one port, and `workers` worker processes sharing one
 * SQLite file. Refuses (DataDirLockedError) while another stack holds the data directory.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir);
  const note = (line: string) => {
    if (options.echo) process.stdout.write(`${line}\n`);
  };
  // Before anything else touches the directory.
  const lock = await lockDataDir(dataDir, note);
  const workers: ManagedChild[] = [];
  let redis: RedisServer | undefined;
  try {
    redis = options.redisUrl
      ? undefined
      : await startRedisServer({
          dir: join(dataDir, 'redis'),
          echo: options.echo,
          // As quiet as the services (which read LOG_LEVEL from the same environment).
          logLevel: redisLogLevel(options.env?.LOG_LEVEL ?? process.env.LOG_LEVEL),
        });
    if (redis?.child.pid) lock.record({ name: 'redis-server', pid: redis.child.pid, stopsWithLauncher: false });
    const redisUrl = options.redisUrl ?? (redis as RedisServer).url;
    const host = options.host ?? '127.0.0.1';
    const env: Record<string, string> = {
      REDIS_URL: redisUrl,
      SQLITE_PATH: join(dataDir, 'aggregator.db'),
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
      api,
      workers,
      env,
      addWorker,
      async stop() {
        await Promise.all(workers.map((w) => w.stop()));
        await api.stop();
        await redis?.stop();
        lock.release();
      },
    };
  } catch (e) {
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
    lock.release();
    throw e;
  }
}
