import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { API_NODE_FLAGS } from '@aggregator/api';
import { type Event, loadConfig } from '@aggregator/common';
import { createDatabase, dropDatabase, ManagedChild } from '@aggregator/stack';
import { applyBatch, openStoreWriter, type StoreConfig } from '@aggregator/store';
import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createEventFactory } from './eventFactory.js';
import { runHttpLoad } from './httpLoad.js';
import { cpuSeconds, selfCpuSeconds, treeCpuSeconds } from './measure.js';

/**
 * What this machine allows without the service, measured in the same run as the modes (a VM's
 * speed drifts from hour to hour, so only figures from one run compare):
 *
 * - http: a publish endpoint that does nothing (node:http, and one Koa middleware), driven by the
 *   single-event mode's generator: the most one-event requests per second any Node API could
 *   answer here, with the generator on the same cores.
 * - sqlite: the same events into a table with only the primary key (WAL, synchronous FULL, as the
 *   store), 1,000 rows per transaction: SQLite itself.
 * - store: the worker's store writer alone (SQLite: four B-trees per row, counters, topics; or
 *   PostgreSQL, in a database of its own on the bench's server), 1,000 events per transaction.
 * - redis: `redis-benchmark -P 16 -t set` against the stack's Redis (AOF on), when the tool is
 *   installed; and the Redis CPU of one `SET NX EX` of a new key, the command at the heart of the
 *   fast-path claim, pipelined from ioredis.
 * - bullmq: no-op jobs added 1,000 at a time and taken by one worker (concurrency 16), in this
 *   process.
 *
 * sqlite, redis and bullmq are what the throughput issue quotes for the machine its targets were
 * set on: SQLite about 250,000 rows/s, Redis about 1.8 million pipelined commands/s, BullMQ
 * 12,000–20,000 jobs/s.
 */
export interface Ceilings {
  http: HttpCeiling[];
  sqlite: { rows: number; rowsPerSecond: number };
  /** `cpuUsPerEvent` is this process's; `serverCpuUsPerEvent` the PostgreSQL server's (0 for SQLite). */
  store: {
    kind: 'sqlite' | 'postgres';
    /** Concurrent writers (1 unless `--writers`). */
    writers: number;
    events: number;
    rows: number;
    eventsPerSecond: number;
    rowsPerSecond: number;
    cpuUsPerEvent: number;
    serverCpuUsPerEvent: number;
  };
  /** `benchmarkSetsPerSecond` is null when redis-benchmark is not installed. */
  redis: { benchmarkSetsPerSecond: number | null; setNx: number; redisCpuUsPerSetNx: number };
  bullmq: { jobs: number; jobsPerSecond: number; cpuUsPerJob: { node: number; redis: number } };
}

export interface HttpCeiling {
  server: 'http' | 'koa';
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuUsPerRequest: { load: number; server: number };
}

export interface CeilingOptions {
  /** For the store's temp file. */
  dir: string;
  /**
   * PostgreSQL: the store ceiling writes into a new database on the server of `adminUrl` (whose
   * user may create databases), whose CPU is measured through `serverPid` when it is local.
   */
  postgres?: { adminUrl: string; serverPid: number | undefined };
  redisUrl: string;
  redisPid: number | undefined;
  /** Requests per no-op server. */
  requests: number;
  connections: number;
  /** Events for the store, commands for Redis. */
  events: number;
  jobs: number;
  dup: number;
}

const CHUNK = 1000;
const WARM_UP_REQUESTS = 2000;

const us = (seconds: number, count: number) => Math.round((seconds * 1e6) / count);

/** Measures every ceiling, one after another, on the stack's Redis and in `options.dir`. */
export async function measureCeilings(options: CeilingOptions): Promise<Ceilings> {
  const http = [await httpCeiling('http', options), await httpCeiling('koa', options)];
  // Built after the HTTP load, so it runs without them in memory; the same events go to both stores.
  const chunks = eventChunks(options);
  return {
    http,
    sqlite: sqliteCeiling(options, chunks),
    store: await storeCeiling(options, chunks),
    redis: await redisCeiling(options),
    bullmq: await bullmqCeiling(options),
  };
}

async function httpCeiling(server: 'http' | 'koa', options: CeilingOptions): Promise<HttpCeiling> {
  const child = new ManagedChild({
    name: `noop-${server}`,
    command: process.execPath,
    args: [...API_NODE_FLAGS, fileURLToPath(new URL('./noopServer.js', import.meta.url)), server],
  });
  try {
    const port = /^listening (\d+)$/.exec(await child.waitFor(/^listening \d+$/))?.[1];
    const factory = createEventFactory(randomUUID().slice(0, 8), options.dup);
    const bodies = Array.from({ length: options.requests }, () => factory.body(1));
    const load = (requests: number) =>
      runHttpLoad({
        url: `http://127.0.0.1:${port}`,
        method: 'POST',
        request: (i) => ({ path: '/publish', body: bodies[i % bodies.length] }),
        requests,
        connections: options.connections,
      });
    // Untimed, so the server's code is optimised as the service's is by the modes before it.
    await load(Math.min(WARM_UP_REQUESTS, options.requests));
    const before = { load: selfCpuSeconds(), server: cpuSeconds(child.pid) };
    const result = await load(options.requests);
    return {
      server,
      requests: result.requests,
      requestsPerSecond: Math.round(result.requests / result.durationSeconds),
      p50Ms: result.latencyP50,
      p99Ms: result.latencyP99,
      errors: result.errors + result.non2xx + result.timeouts,
      cpuUsPerRequest: {
        load: us(selfCpuSeconds() - before.load, result.requests),
        server: us(cpuSeconds(child.pid) - before.server, result.requests),
      },
    };
  } finally {
    await child.stop();
  }
}

/** The bench's events, parsed, in chunks of CHUNK. */
function eventChunks(options: CeilingOptions): Event[][] {
  const factory = createEventFactory(randomUUID().slice(0, 8), options.dup);
  const chunks: Event[][] = [];
  for (let n = 0; n < options.events; n += CHUNK) {
    // A body of one event is the event itself, not an array.
    const parsed = JSON.parse(factory.body(Math.min(CHUNK, options.events - n))) as Event | Event[];
    chunks.push(Array.isArray(parsed) ? parsed : [parsed]);
  }
  return chunks;
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

/** SQLite itself: `chunks` into a table with only the primary key. */
function sqliteCeiling(options: CeilingOptions, chunks: readonly Event[][]): Ceilings['sqlite'] {
  const path = join(options.dir, 'ceiling-plain.db');
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (topic TEXT, event_id TEXT, payload TEXT, PRIMARY KEY (topic, event_id))');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    const insertAll = db.transaction((events: readonly Event[]) => {
      let rows = 0;
      for (const e of events) rows += insert.run(e.topic, e.event_id, JSON.stringify(e.payload)).changes;
      return rows;
    });
    const started = performance.now();
    let rows = 0;
    for (const events of chunks) rows += insertAll(events);
    return { rows, rowsPerSecond: Math.round(rows / ((performance.now() - started) / 1000)) };
  } finally {
    db.close();
    removeDatabase(path);
  }
}

/**
 * The store's writer alone, one transaction per chunk (a store of its own: the same pairs are new
 * to it); with `writers` > 1, that many writers (each its own connection pool, as workers are) take
 * the chunks in turn from one list, at once.
 */
async function storeCeiling(
  options: CeilingOptions,
  chunks: readonly Event[][],
  writers = 1,
): Promise<Ceilings['store']> {
  const postgres = options.postgres;
  const path = join(options.dir, 'ceiling-store.db');
  const database = `ceiling_store_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const config: StoreConfig = postgres
    ? loadConfig({ DATABASE_URL: await createDatabase(postgres.adminUrl, database) })
    : loadConfig({ SQLITE_PATH: path });
  try {
    const stores = [await openStoreWriter(config)];
    try {
      while (stores.length < writers) stores.push(await openStoreWriter(config));
      const cpu = { node: selfCpuSeconds(), server: treeCpuSeconds(postgres?.serverPid) };
      const started = performance.now();
      let rows = 0;
      let next = 0;
      await Promise.all(
        stores.map(async (store) => {
          while (next < chunks.length) {
            const events = chunks[next++] as Event[];
            // Not `rows += await …`: that reads `rows` before the await, losing another writer's count.
            const { inserted } = await applyBatch(store, randomUUID(), events);
            rows += inserted;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      return {
        kind: postgres ? 'postgres' : 'sqlite',
        writers,
        events: options.events,
        rows,
        eventsPerSecond: Math.round(options.events / seconds),
        rowsPerSecond: Math.round(rows / seconds),
        cpuUsPerEvent: us(selfCpuSeconds() - cpu.node, options.events),
        serverCpuUsPerEvent: us(treeCpuSeconds(postgres?.serverPid) - cpu.server, options.events),
      };
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  } finally {
    if (postgres) await dropDatabase(postgres.adminUrl, database);
    else removeDatabase(path);
  }
}

/**
 * `--modes ceiling --writers 1,2,4`: the store alone with each number of concurrent writers,
 * `rounds` times, every number once per round (so each round compares them at one moment of the
 * machine); the same events each time, into a fresh store.
 */
export async function measureStoreScaling(
  options: CeilingOptions,
  writers: readonly number[],
  rounds: number,
): Promise<Array<Ceilings['store'] & { round: number }>> {
  const chunks = eventChunks(options);
  const results: Array<Ceilings['store'] & { round: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    for (const n of writers) results.push({ ...(await storeCeiling(options, chunks, n)), round });
  }
  return results;
}

async function redisCeiling(options: CeilingOptions): Promise<Ceilings['redis']> {
  const redis = new Redis(options.redisUrl);
  const prefix = `ceiling:${randomUUID()}:`;
  const keys = (n: number) =>
    Array.from({ length: Math.min(CHUNK, options.events - n) }, (_, i) => `${prefix}${n + i}`);
  try {
    const redisCpu = cpuSeconds(options.redisPid);
    let stored = 0;
    for (let n = 0; n < options.events; n += CHUNK) {
      const pipeline = redis.pipeline();
      for (const key of keys(n)) pipeline.set(key, 'job', 'EX', 600, 'NX');
      for (const [error, reply] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        if (reply === 'OK') stored++;
      }
    }
    const cpuUs = (cpuSeconds(options.redisPid) - redisCpu) * 1e6;
    return {
      benchmarkSetsPerSecond: await redisBenchmark(redis, options.redisUrl, options.events),
      setNx: stored,
      redisCpuUsPerSetNx: Number((cpuUs / options.events).toFixed(1)),
    };
  } finally {
    // Leave the Redis memory the modes report as it was.
    for (let n = 0; n < options.events; n += CHUNK) await redis.unlink(...keys(n)).catch(() => {});
    redis.disconnect();
  }
}

/**
 * `redis-benchmark -P 16 -t set` requests/s, or null when the tool is not installed.
 *
 * @throws when it is installed but fails or takes over a minute
 */
async function redisBenchmark(redis: Redis, redisUrl: string, requests: number): Promise<number | null> {
  const { hostname, port, username, password } = new URL(redisUrl);
  // The private Redis's password lives as long as that Redis (one run): on this command line briefly.
  const auth = password ? ['--user', decodeURIComponent(username), '-a', decodeURIComponent(password)] : [];
  const args = ['-h', hostname, '-p', port || '6379', ...auth, '-P', '16', '-t', 'set', '-n', String(requests), '-q'];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('redis-benchmark', args, { timeout: 60_000 }));
  } catch (e: unknown) {
    if ((e as { code?: unknown }).code === 'ENOENT') return null;
    throw e;
  } finally {
    // Its one key (without -r every SET writes the same one).
    await redis.del('key:__rand_int__').catch(() => {});
  }
  // Progress lines end in \r; the summary is "SET: 538502.94 requests per second, ...".
  const rate = /SET: ([\d.]+) requests per second/.exec(stdout)?.[1];
  if (rate === undefined) throw new Error(`redis-benchmark printed no SET rate: ${stdout.slice(-200)}`);
  return Math.round(Number(rate));
}

async function bullmqCeiling(options: CeilingOptions): Promise<Ceilings['bullmq']> {
  // BullMQ leaves connections it is given open: both are closed below.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const name = `ceiling-${randomUUID()}`;
  const queue = new Queue(name, { connection, prefix: 'ceiling' });
  let done = 0;
  let settle: (error?: Error) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  const worker = new Worker(name, async () => {}, {
    connection: workerConnection,
    prefix: 'ceiling',
    concurrency: 16,
    removeOnComplete: { count: 0 },
  });
  worker.on('completed', () => {
    if (++done === options.jobs) settle();
  });
  worker.on('failed', (_job, error) => settle(new Error(`a no-op BullMQ job failed: ${error.message}`)));
  worker.on('error', (error) => settle(error));
  const deadline = setTimeout(
    () => settle(new Error(`BullMQ ceiling: ${done} of ${options.jobs} jobs done after 5 minutes`)),
    300_000,
  );
  try {
    await worker.waitUntilReady();
    const cpu = { node: selfCpuSeconds(), redis: cpuSeconds(options.redisPid) };
    const started = performance.now();
    for (let n = 0; n < options.jobs; n += CHUNK) {
      const count = Math.min(CHUNK, options.jobs - n);
      await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'noop', data: { n: n + i } })));
    }
    await finished;
    const seconds = (performance.now() - started) / 1000;
    return {
      jobs: done,
      jobsPerSecond: Math.round(done / seconds),
      cpuUsPerJob: {
        node: us(selfCpuSeconds() - cpu.node, done),
        redis: us(cpuSeconds(options.redisPid) - cpu.redis, done),
      },
    };
  } finally {
    clearTimeout(deadline);
    // Each step even when one before it failed, so no connection keeps the bench from exiting.
    await worker.close().catch(() => {});
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    connection.disconnect();
    workerConnection.disconnect();
  }
}

/** The lines the bench prints for the ceilings. */
export function describeCeilings(c: Ceilings): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    ...c.http.map(
      (h) =>
        `ceiling: no-op ${h.server === 'http' ? 'node:http' : 'Koa'} server, one event per request: ${n(h.requestsPerSecond)} requests/s, ` +
        `p50 ${h.p50Ms} ms, p99 ${h.p99Ms} ms, CPU µs/request ${h.cpuUsPerRequest.server} server + ${h.cpuUsPerRequest.load} generator, errors ${h.errors}`,
    ),
    `ceiling: SQLite, a table with only the primary key, ${CHUNK} rows per transaction: ${n(c.sqlite.rowsPerSecond)} rows/s`,
    `ceiling: the ${c.store.kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} store alone, ${CHUNK} events per transaction: ` +
      `${n(c.store.eventsPerSecond)} events/s (${n(c.store.rowsPerSecond)} rows/s), ${c.store.cpuUsPerEvent} µs CPU per event` +
      (c.store.kind === 'postgres' ? ` + ${c.store.serverCpuUsPerEvent} µs in PostgreSQL` : ''),
    `ceiling: Redis: redis-benchmark -P 16 SET ${c.redis.benchmarkSetsPerSecond === null ? 'not installed' : `${n(c.redis.benchmarkSetsPerSecond)} requests/s`}; ` +
      `a pipelined SET NX EX of a new key costs ${c.redis.redisCpuUsPerSetNx} µs of Redis CPU`,
    `ceiling: BullMQ no-op jobs (addBulk of ${CHUNK}, one worker, concurrency 16): ${n(c.bullmq.jobsPerSecond)} jobs/s, ` +
      `CPU µs/job ${c.bullmq.cpuUsPerJob.node} Node + ${c.bullmq.cpuUsPerJob.redis} Redis`,
  ];
}
