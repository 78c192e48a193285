import { hostname } from 'node:os';
import { z } from 'zod';
import { parseFailpoints } from './failpoints.js';
import { parsePartitionList } from './partition.js';

/**
 * The only place that reads `process.env`. Every variable is documented here (TSDoc) and in the
 * README's configuration table; a test keeps the two in step.
 */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A seed node of a Redis Cluster. */
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * Parses `host:port,host:port,…` (IPv6 hosts in brackets).
 *
 * @throws Error with a readable message when malformed
 */
function parseClusterNodes(spec: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const node of spec.split(',')) {
    const match = /^\s*([^\s:[\]]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(node);
    if (!match || Number(match[2]) > 65_535) throw new Error('write the seed nodes as host:port,host:port,…');
    nodes.push({ host: (match[1] as string).replace(/^\[|\]$/g, ''), port: Number(match[2]) });
  }
  return nodes;
}

/** A memory budget: a share of Redis `maxmemory`, or an absolute size. */
export type MemoryBudget = { share: number } | { bytes: number };

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * Parses `25%` (1–90 % of `maxmemory`) or a size: `65536`, `512kb`, `64mb`, `1gb` (at least 1 MiB).
 *
 * @throws Error with a readable message when malformed
 */
export function parseMemoryBudget(spec: string): MemoryBudget {
  const match = /^\s*(\d+)\s*(%|b|kb|mb|gb)?\s*$/i.exec(spec);
  const unit = (match?.[2] ?? '').toLowerCase();
  const amount = Number(match?.[1]);
  if (match && unit === '%' && amount >= 1 && amount <= 90) return { share: amount / 100 };
  if (match && unit !== '%' && amount * (UNITS[unit] as number) >= 1024 ** 2) {
    return { bytes: amount * (UNITS[unit] as number) };
  }
  throw new Error('write a share of Redis maxmemory from 1% to 90% (e.g. 25%), or a size of at least 1mb (e.g. 64mb)');
}

/** An optional string that `parse` accepts; what `parse` throws is the readable error. */
function checkedBy(parse: (spec: string) => unknown) {
  return z
    .string()
    .optional()
    .superRefine((spec, ctx) => {
      try {
        if (spec !== undefined) parse(spec);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    });
}

export const configSchema = z
  .object({
    /** Redis connection URL shared by every process. */
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    /**
     * Seed nodes of a Redis Cluster, `host:port,host:port,…`. When set, every process uses a cluster
     * client and `REDIS_URL` is ignored.
     */
    REDIS_CLUSTER_NODES: checkedBy(parseClusterNodes).transform((spec) =>
      spec === undefined ? undefined : parseClusterNodes(spec),
    ),
    /**
     * After enqueueing, wait until this many replicas have the jobs (Redis `WAIT`) before answering
     * 200, so an acknowledged job survives the loss of its master. 0: answer once the master has it.
     */
    REDIS_WAIT_REPLICAS: int(0, 16).default(0),
    /**
     * Queue partitions: one BullMQ queue each (an event's partition is FNV-1a of its topic, mod this),
     * so the queue and the fast path spread over the shards of a Redis Cluster.
     */
    QUEUE_PARTITIONS: int(1, 256).default(1),
    /** Worker: the partitions this replica consumes, e.g. `0-3,6`; every partition when unset. */
    WORKER_PARTITIONS: checkedBy(parsePartitionList).transform((spec) =>
      spec === undefined ? undefined : parsePartitionList(spec),
    ),
    /** Prefix of every Redis key and queue name; separates deployments sharing one Redis. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1–64 letters, digits, "_", "." or "-"')
      .default('aggregator'),
    /**
     * Interface the API (and a worker's metrics server) listens on: loopback unless asked otherwise.
     * `0.0.0.0` for every interface, as the Docker image sets it.
     */
    HOST: z.string().min(1).default('127.0.0.1'),
    /** Port the API listens on. */
    PORT: int(0, 65535).default(8080),
    /**
     * Selects the store: a `postgres://` or `postgresql://` URL puts events and counters in that
     * PostgreSQL database (API and worker replicas may then run on any host); unset, they go to the
     * SQLite file at SQLITE_PATH.
     */
    DATABASE_URL: z
      .url({
        protocol: /^postgres(ql)?$/,
        error: 'must be a postgres:// or postgresql:// URL, e.g. postgres://user:password@db-host:5432/aggregator',
      })
      .optional(),
    /** PostgreSQL: most connections one process keeps open (its pool). */
    DATABASE_POOL_SIZE: int(1, 1000).default(4),
    /** The SQLite database file; its parent directory is created by the worker. */
    SQLITE_PATH: z.string().min(1).default('./data/aggregator.db'),
    /**
     * SQLite durability: FULL syncs every commit to disk before the job is acknowledged (survives a
     * power cut); NORMAL syncs at checkpoints only (survives a process crash, not a power cut).
     */
    SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
    /**
     * How long a worker waits for another writer's lock before the attempt fails with SQLITE_BUSY.
     * The wait blocks the worker's event loop, so keep it well under half of WORKER_LOCK_MS.
     */
    SQLITE_BUSY_TIMEOUT_MS: int(0, 600_000).default(2000),
    /** Jobs (batches) one worker process handles at once. */
    WORKER_CONCURRENCY: int(1, 256).default(8),
    /** Attempts per job before it is kept as failed. */
    JOB_ATTEMPTS: int(1, 100).default(10),
    /** First retry delay; each later retry waits twice as long. */
    JOB_BACKOFF_MS: int(1, 3_600_000).default(500),
    /** Most events the API coalesces into one job; a single larger request becomes one job of its own. */
    JOB_MAX_EVENTS: int(1, 10_000).default(1000),
    /** How long a worker's lock on a job lasts without renewal; bounds stalled-job takeover. */
    WORKER_LOCK_MS: int(1000, 600_000).default(10_000),
    /** How often workers look for jobs whose worker died. */
    WORKER_STALLED_INTERVAL_MS: int(500, 600_000).default(5000),
    /**
     * Longest time the fast path remembers a pair (the store remembers it for ever); its memory
     * budget may make that shorter.
     */
    DEDUP_TTL_SECONDS: int(1, 365 * 24 * 3600).default(86_400),
    /**
     * Memory the fast path may use in Redis, in all: a share of Redis `maxmemory` (`25%`, the
     * default; 256 MiB when Redis has no `maxmemory`), or a size (`64mb`, `1gb`, bytes). Past it the
     * oldest claims are dropped and the store decides those pairs; publishing never stops for it.
     */
    DEDUP_MEMORY_BUDGET: checkedBy(parseMemoryBudget)
      .default('25%')
      .transform((spec) => parseMemoryBudget(spec as string)),
    /** Largest accepted request body. */
    MAX_BODY_BYTES: int(1024, 512 * 1024 * 1024).default(5 * 1024 * 1024),
    /** Most events in one publish request. */
    MAX_BATCH: int(1, 1_000_000).default(10_000),
    /** pino level: fatal, error, warn, info, debug, trace or silent. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Name of this replica in logs and in the live-worker list; defaults to host name and pid. */
    REPLICA_ID: z
      .string()
      .regex(/^[\w.-]{1,128}$/)
      .default(`${hostname()}-${process.pid}`),
    /** Longest time a graceful shutdown may take before the process exits anyway. */
    SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
    /** Longest time the API waits for Redis before answering 503. */
    ENQUEUE_TIMEOUT_MS: int(50, 60_000).default(1000),
    /** Backpressure: publishes get 429 while the queue holds more events than this (0: no limit). */
    MAX_QUEUE_DEPTH: int(0, 1_000_000_000).default(1_000_000),
    /** When set, `POST /publish` requires `Authorization: Bearer <API_TOKEN>`. */
    API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** When set, `GET /events`, `/stats` and `/metrics` require `Authorization: Bearer <READ_TOKEN>`. */
    READ_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Worker: port of its `GET /metrics` server (0: none). The API serves /metrics on PORT. */
    METRICS_PORT: int(0, 65535).default(0),
    /** When set, the queue UI is served at `/admin/queues`, behind this token (Bearer, or Basic password). */
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Enqueues one API replica runs at once; publishes arriving meanwhile are coalesced into the next. */
    PUBLISH_MAX_IN_FLIGHT: int(1, 64).default(2),
    /** Extra wait for more publishes before an enqueue; 0 adds no latency at low load. */
    PUBLISH_LINGER_MS: int(0, 1000).default(0),
    /** API processes `api/dist/cluster.js` runs on the one `PORT` (node's cluster module). */
    API_REPLICAS: int(1, 64).default(1),
    /** API: most `GET /events/stream` connections one replica holds; more get 503 `too_many_streams`. */
    MAX_STREAMS: int(0, 100_000).default(1000),
    /**
     * API: most `GET /events/stream` connections one client (its address, as the nearest proxy
     * reports it) holds on one replica; more get 503 `too_many_streams`. 0: no limit.
     */
    MAX_STREAMS_PER_CLIENT: int(0, 100_000).default(32),
    /**
     * API: bytes all the streams of one replica may have waiting for their clients together. A
     * stream whose backlog takes the sum past it is ended (`stream_fell_behind`), and new streams
     * get 503 `too_many_streams` while it is spent; STREAM_BUFFER_BYTES bounds each stream alone.
     */
    STREAMS_BUFFER_BUDGET_BYTES: int(64 * 1024, 64 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** API: interval of the heartbeat comment on every event stream (keep it under every proxy's idle timeout). */
    STREAM_HEARTBEAT_MS: int(100, 300_000).default(15_000),
    /**
     * API: how often the stream hub reads the store even without an announcement from a worker (a
     * lost announcement, Redis down), while any stream is open.
     */
    STREAM_POLL_MS: int(50, 60_000).default(1000),
    /**
     * API: bytes one stream may have waiting for its client; a client that falls further behind gets
     * a final `event: error` message and is disconnected (it resumes with `Last-Event-ID`).
     */
    STREAM_BUFFER_BYTES: int(4096, 256 * 1024 * 1024).default(1024 * 1024),
    /**
     * API: longest time a client may take to send a request's headers; then `408 request_timeout`
     * and the connection is closed. Short: headers are small, and a client trickling them holds a
     * connection for nothing (the compose `lb` allows 10 s too).
     */
    HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
    /**
     * API: longest time a client may take to send a whole request, headers and body; then
     * `408 request_timeout`. 60 s carries a 5 MiB body at about 90 KB/s. An event stream's request
     * has no body, so streams are not cut by it.
     */
    HTTP_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
    /**
     * API: how long an idle keep-alive connection is kept: Node's own 5 s, now a setting. Longer
     * holds more idle sockets against MAX_CONNECTIONS; 65 s also made the stream tests' slow
     * consumer take 6 times longer to be cut off (not yet explained), so it stays at 5 s.
     */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000).default(5000),
    /**
     * API: most connections one process holds at once (open streams included); a connection past
     * it is closed as it arrives. 0: no cap.
     */
    MAX_CONNECTIONS: int(0, 1_000_000).default(4096),
    /** Test-only crash points, e.g. `worker.after-commit:exit` (see failpoints.ts). Leave unset. */
    AGGREGATOR_FAILPOINTS: checkedBy(parseFailpoints),
  })
  .superRefine((config, ctx) => {
    if (
      typeof config.HTTP_HEADERS_TIMEOUT_MS === 'number' &&
      typeof config.HTTP_REQUEST_TIMEOUT_MS === 'number' &&
      config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must not be longer than HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS}), which includes the headers`,
      });
    }
    // Runs even when a field failed; then that field may still be its raw string.
    if (!Array.isArray(config.WORKER_PARTITIONS) || typeof config.QUEUE_PARTITIONS !== 'number') return;
    const outside = config.WORKER_PARTITIONS.filter((p) => p >= config.QUEUE_PARTITIONS);
    if (outside.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_PARTITIONS'],
        message: `partition ${outside.join(', ')} does not exist: QUEUE_PARTITIONS=${config.QUEUE_PARTITIONS} has partitions 0-${config.QUEUE_PARTITIONS - 1}`,
      });
    }
  });

/** The validated configuration, frozen. */
export type Config = Readonly<z.infer<typeof configSchema>>;

/** Names of every configuration variable (for the README check). */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as Array<keyof Config>;

/** A configuration that does not validate; `message` is ready to print. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the configuration once.
 *
 * @param env - the environment to read; `process.env` by default (tests pass their own)
 * @throws ConfigError with a readable list of the bad variables
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(result.error)}`);
  }
  return Object.freeze(result.data);
}

/** For entrypoints: `loadConfig()`, or print the readable message and exit 1 before listening. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (e: unknown) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
