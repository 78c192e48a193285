import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Event, openStoreWriter } from '@aggregator/common';
import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ManagedChild } from '../stack/childProcess.js';
import { API_NODE_FLAGS } from '../stack/services.js';
import { createEventFactory } from './eventFactory.js';
import { runHttpLoad } from './httpLoad.js';
import { cpuSeconds } from './measure.js';

/**
 * What this machine allows without the service, measured in the same run as the modes (a VM's
 * speed drifts from hour to hour, so only figures from one run compare):
 *
 * - http: a publish endpoint that does nothing (node:http, and one Koa middleware), driven by the
 *   single-event mode's generator: the most one-event requests per second any Node API could
 *   answer here, with the generator on the same cores.
 * - sqlite: the same events into a table with only the primary key (WAL, synchronous FULL, as the
 *   store), 1,000 rows per transaction: SQLite itself.
 * - store: the worker's SQLite writer alone (four B-trees per row, counters, topics), 1,000 events
 *   per transaction.
 * - redis: `redis-benchmark -P 16 -t set` against the stack's Redis (AOF on), when the tool is
 *   installed; and the Redis CPU of the fast-path claim, `SET NX EX` pipelined from ioredis.
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
  store: { events: number; eventsPerSecond: number; rowsPerSecond: number; cpuUsPerEvent: number };
  redis: { benchmarkSetsPerSecond: number | null; claims: number; redisCpuUsPerClaim: number };
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

const us = (seconds: number, count: number) => Math.round((seconds * 1e6) / count);
const selfCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

export async function measureCeilings(options: CeilingOptions): Promise<Ceilings> {
  return {
    http: [await httpCeiling('http', options), await httpCeiling('koa', options)],
    sqlite: sqliteCeiling(options),
    store: storeCeiling(options),
    redis: await redisCeiling(options),
    bullmq: await bullmqCeiling(options),
  };
}

async function httpCeiling(server: 'http' | 'koa', options: CeilingOptions): Promise<HttpCeiling> {
  const child = new ManagedChild({
    name: `noop-${server}`,
    command: process.execPath,
    args: [...API_NODE_FLAGS, new URL('./noopServer.js', import.meta.url).pathname, server],
  });
  try {
    const port = /^listening (\d+)$/.exec(await child.waitFor(/^listening \d+$/))?.[1];
    const factory = createEventFactory(randomUUID().slice(0, 8), options.dup);
    const bodies = Array.from({ length: options.requests }, () => factory.body(1));
    const before = { load: selfCpu(), server: cpuSeconds(child.pid) };
    const result = await runHttpLoad({
      url: `http://127.0.0.1:${port}`,
      method: 'POST',
      request: (i) => ({ path: '/publish', body: bodies[i] }),
      requests: options.requests,
      connections: options.connections,
    });
    return {
      server,
      requests: result.requests,
      requestsPerSecond: Math.round(result.requests / result.durationSeconds),
      p50Ms: result.latencyP50,
      p99Ms: result.latencyP99,
      errors: result.errors + result.non2xx + result.timeouts,
      cpuUsPerRequest: {
        load: us(selfCpu() - before.load, result.requests),
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
    chunks.push(JSON.parse(factory.body(Math.min(CHUNK, options.events - n))) as Event[]);
  }
  return chunks;
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

function sqliteCeiling(options: CeilingOptions): Ceilings['sqlite'] {
  const path = join(options.dir, 'ceiling-plain.db');
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (topic TEXT, event_id TEXT, payload TEXT, PRIMARY KEY (topic, event_id))');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    const insertAll = db.transaction((events: Event[]) => {
      let rows = 0;
      for (const e of events) rows += insert.run(e.topic, e.event_id, JSON.stringify(e.payload)).changes;
      return rows;
    });
    const chunks = eventChunks(options);
    const started = performance.now();
    let rows = 0;
    for (const events of chunks) rows += insertAll(events);
    return { rows, rowsPerSecond: Math.round(rows / ((performance.now() - started) / 1000)) };
  } finally {
    db.close();
    removeDatabase(path);
  }
}

function storeCeiling(options: CeilingOptions): Ceilings['store'] {
  const path = join(options.dir, 'ceiling-store.db');
  const store = openStoreWriter(path);
  try {
    const chunks = eventChunks(options);
    const cpu = selfCpu();
    const started = performance.now();
    let rows = 0;
    for (const events of chunks) rows += store.applyBatch(randomUUID(), events).inserted;
    const seconds = (performance.now() - started) / 1000;
    return {
      events: options.events,
      eventsPerSecond: Math.round(options.events / seconds),
      rowsPerSecond: Math.round(rows / seconds),
      cpuUsPerEvent: us(selfCpu() - cpu, options.events),
    };
  } finally {
    store.close();
    removeDatabase(path);
  }
}

async function redisCeiling(options: CeilingOptions): Promise<Ceilings['redis']> {
  const redis = new Redis(options.redisUrl);
  const prefix = `ceiling:${randomUUID()}:`;
  try {
    const redisCpu = cpuSeconds(options.redisPid);
    for (let n = 0; n < options.events; n += CHUNK) {
      const pipeline = redis.pipeline();
      for (let i = n; i < Math.min(n + CHUNK, options.events); i++)
        pipeline.set(`${prefix}${i}`, 'job', 'EX', 600, 'NX');
      await pipeline.exec();
    }
    const redisCpuUsPerClaim = Number((((cpuSeconds(options.redisPid) - redisCpu) * 1e6) / options.events).toFixed(1));
    // Leave the Redis memory the modes report as it was.
    for (let n = 0; n < options.events; n += CHUNK) {
      await redis.unlink(...Array.from({ length: Math.min(CHUNK, options.events - n) }, (_, i) => `${prefix}${n + i}`));
    }
    return {
      benchmarkSetsPerSecond: await redisBenchmark(options.redisUrl, options.events),
      claims: options.events,
      redisCpuUsPerClaim,
    };
  } finally {
    redis.disconnect();
  }
}

/** `redis-benchmark -P 16 -t set` requests/s, or null when the tool is not installed. */
async function redisBenchmark(redisUrl: string, requests: number): Promise<number | null> {
  const { hostname, port } = new URL(redisUrl);
  try {
    const { stdout } = await promisify(execFile)('redis-benchmark', [
      ...['-h', hostname, '-p', port || '6379', '-P', '16', '-t', 'set', '-n', String(requests), '-q'],
    ]);
    // Progress lines end in \r; the summary is "SET: 538502.94 requests per second, ...".
    const rate = /SET: ([\d.]+) requests per second/.exec(stdout)?.[1];
    return rate === undefined ? null : Math.round(Number(rate));
  } catch {
    return null;
  }
}

async function bullmqCeiling(options: CeilingOptions): Promise<Ceilings['bullmq']> {
  // BullMQ leaves connections it is given open: both are closed below.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const name = `ceiling-${randomUUID()}`;
  const queue = new Queue(name, { connection, prefix: 'ceiling' });
  let done = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const worker = new Worker(name, async () => {}, {
    connection: workerConnection,
    prefix: 'ceiling',
    concurrency: 16,
    removeOnComplete: { count: 0 },
  });
  worker.on('completed', () => {
    if (++done === options.jobs) allDone();
  });
  try {
    await worker.waitUntilReady();
    const cpu = { node: selfCpu(), redis: cpuSeconds(options.redisPid) };
    const started = performance.now();
    for (let n = 0; n < options.jobs; n += CHUNK) {
      const count = Math.min(CHUNK, options.jobs - n);
      await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'noop', data: { n: n + i } })));
    }
    await finished;
    const seconds = (performance.now() - started) / 1000;
    return {
      jobs: options.jobs,
      jobsPerSecond: Math.round(options.jobs / seconds),
      cpuUsPerJob: {
        node: us(selfCpu() - cpu.node, options.jobs),
        redis: us(cpuSeconds(options.redisPid) - cpu.redis, options.jobs),
      },
    };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
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
    `ceiling: the store alone, ${CHUNK} events per transaction: ${n(c.store.eventsPerSecond)} events/s ` +
      `(${n(c.store.rowsPerSecond)} rows/s), ${c.store.cpuUsPerEvent} µs CPU per event`,
    `ceiling: Redis: redis-benchmark -P 16 SET ${c.redis.benchmarkSetsPerSecond === null ? 'not installed' : `${n(c.redis.benchmarkSetsPerSecond)} requests/s`}; ` +
      `the fast-path claim (SET NX EX) costs ${c.redis.redisCpuUsPerClaim} µs of Redis CPU`,
    `ceiling: BullMQ no-op jobs (addBulk of ${CHUNK}, one worker, concurrency 16): ${n(c.bullmq.jobsPerSecond)} jobs/s, ` +
      `CPU µs/job ${c.bullmq.cpuUsPerJob.node} Node + ${c.bullmq.cpuUsPerJob.redis} Redis`,
  ];
}
