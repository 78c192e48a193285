import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@aggregator/common';
import { type EventStoreReader, openStoreReader } from '@aggregator/store';
import { type Ceilings, describeCeilings, measureCeilings } from './bench/ceilings.js';
import { createEventFactory, type IdStyle } from './bench/eventFactory.js';
import { type CpuSample, maxSeq, peakRssMb, redisMemoryMb, sampleCpu, storedLagMs, treePids } from './bench/measure.js';
import { type QueryFigures, type QueryResult, runQueries } from './bench/queryLoad.js';
import { runLoad } from './bench/runLoad.js';
import { openBenchStreams, type StreamLoadResult } from './bench/streamLoad.js';
import { freePort } from './stack/freePort.js';
import { type LocalStack, startLocalStack } from './stack/localStack.js';

const HELP = `npm run bench -- [options]

Starts a fresh stack (private redis-server, temp SQLite or a private PostgreSQL, API replicas,
workers as processes), drives it with a lean HTTP load generator, waits until every event is
stored and counted, checks the counters are exact, and prints a table and one JSON line (CPU
µs/event: the CPU time each part used, divided by the events of the mode; store is the
PostgreSQL server, all its processes; SQLite's work is inside the workers').

  --modes LIST        batch,single,lag,stream,query,ceiling (comma-separated; default all of
                      them, in this order)
                      stream: --streams open GET /events/stream connections while single
                      events are published as in lag mode; publish -> delivered latency
                      over every stream, and API CPU per delivered event
                      ceiling: what this machine allows without the service, in this run: no-op
                      node:http and Koa servers (20,000 one-event requests each, lean
                      generator), SQLite and the store alone (200,000 events), redis-benchmark,
                      20,000 no-op BullMQ jobs. Last, so that the Redis writes it makes cannot
                      bring an AOF rewrite into the other modes
                      query: GET /events?topic=<one topic>&after=<random>&limit=100 for
                      --query-seconds, then ?topic_pattern=bench.g<k>.* (4 topics) as long
  --events N          events per mode (batch and single)          default 200000 / 60000
  --batch N           events per request in batch mode            default 100
  --dup R             duplicate ratio, 0 <= R < 1                 default 0.2
  --connections N     connections in batch / single and ceiling   default 16 / 64
  --lag-rate N        events/s in lag mode (default: half the single-mode peak)
  --lag-seconds N     duration of lag mode (and stream mode)      default 10
  --streams N         open streams in stream mode                 default 50
  --query-seconds N   duration of each kind of query page         default 5
  --topics N          topics the events spread over (bench.g<i/4>.t<i%4>) default 8
  --apis N            API replicas (node cluster on one port)     default 1
  --workers N         worker processes                            default 1
  --store S           sqlite, or postgres: a private PostgreSQL (durable, as SQLite
                      is with its default SQLITE_SYNCHRONOUS=FULL), or the database
                      at DATABASE_URL when set (its CPU is then not measured)
                                                                  default sqlite
  --fill N            store N events (batches, duplicates as --dup) before the modes, to
                      measure ingest and queries on a large store
  --smoke             tiny run for CI: correctness, not speed
  --profile DIR       write a V8 CPU profile of every service process into DIR
  --ids STYLE         ordered (default: <run>-<n>, like UUIDv7/ULID) or random (like
                      UUIDv4: each insert lands on a random page of the primary-key index)
  --client NAME       lean (the default) or autocannon, to cross-check the generator
  -h, --help`;

/** Events per fill chunk: well under the default MAX_QUEUE_DEPTH of 1,000,000. */
const FILL_CHUNK = 500_000;

interface ModeResult {
  mode: string;
  events: number;
  requests: number;
  errors: number;
  eventsPerSecond: number;
  publishP50Ms: number;
  publishP99Ms: number;
  /** Publish → stored, from the time each body was built: only in modes that build it at send time. */
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  exact: boolean;
  detail: string;
  /** CPU microseconds per event spent by each part (load is the generator, this process). */
  cpuUsPerEvent: CpuSample & { total: number };
  /** Stream mode: what the streams received, and the API's CPU per delivered event. */
  streams?: StreamLoadResult & { apiCpuUsPerDelivered: number };
}

/** What a mode needs of the stack: its processes, and a reader of its store. */
interface Bench {
  stack: LocalStack;
  store: EventStoreReader;
}

async function stats(url: string) {
  const res = await fetch(`${url}/stats`);
  return (await res.json()) as {
    received: number;
    unique_processed: number;
    duplicate_dropped: number;
    queue: { waiting: number; active: number; delayed: number; failed: number };
  };
}

async function settle(url: string, receivedTarget: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(url);
    if (s.received >= receivedTarget && s.queue.waiting + s.queue.active + s.queue.delayed === 0) return s;
    if (Date.now() > deadline) throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runMode(
  { stack, store }: Bench,
  mode: 'batch' | 'single' | 'lag' | 'stream' | 'fill',
  opts: {
    events: number;
    batch: number;
    dup: number;
    connections: number;
    rate?: number;
    client?: 'lean' | 'autocannon';
    ids?: IdStyle;
    topics?: number;
    /** Open streams that must receive every new event before the CPU is sampled (stream mode). */
    streams?: number;
  },
): Promise<ModeResult> {
  const url = stack.url;
  const factory = createEventFactory(randomUUID().slice(0, 8), opts.dup, opts.ids, opts.topics);
  const before = await stats(url);
  const seqBefore = await maxSeq(store);
  const requests = Math.ceil(opts.events / opts.batch);
  // Bodies built before the CPU is sampled keep their building out of the figures (the fill is too
  // big to hold), but their timestamps are from before the run: lag is measured only where bodies
  // are built as they are sent.
  const pregenerate = mode === 'batch' || mode === 'single';
  const bodies = pregenerate ? Array.from({ length: requests }, () => factory.body(opts.batch)) : undefined;
  const pids = {
    api: stack.api.pid,
    workers: stack.workers.map((w) => w.pid),
    redis: stack.redis?.child.pid,
    store: stack.postgres?.server?.child.pid,
  };
  // From here to the end of settle(): settle's /stats polls (every 10 ms) count too, about 1 % of
  // a core in the API and the generator.
  const streams = opts.streams ? await openBenchStreams(url, opts.streams, seqBefore) : undefined;
  const cpuBefore = sampleCpu(pids);
  const started = performance.now();
  const load = await runLoad(factory, {
    url,
    requests,
    batch: opts.batch,
    connections: opts.connections,
    rate: opts.rate,
    bodies,
    client: opts.client,
  });
  const sent = factory.generated;
  const after = await settle(url, before.received + sent, Math.max(300_000, sent));
  const seconds = (performance.now() - started) / 1000;
  await streams?.waitFor(after.unique_processed - before.unique_processed, 60_000);
  const cpuAfter = sampleCpu(pids);
  const perEvent = (part: keyof CpuSample) => Math.round(((cpuAfter[part] - cpuBefore[part]) * 1e6) / sent);
  const cpu = {
    load: perEvent('load'),
    api: perEvent('api'),
    worker: perEvent('worker'),
    redis: perEvent('redis'),
    store: perEvent('store'),
  };
  const d = {
    received: after.received - before.received,
    unique: after.unique_processed - before.unique_processed,
    duplicates: after.duplicate_dropped - before.duplicate_dropped,
  };
  const failures = load.errors + load.non2xx + load.timeouts;
  const exact =
    failures === 0 && d.received === sent && d.unique === factory.unique && d.duplicates === sent - factory.unique;
  const lag = pregenerate ? undefined : await storedLagMs(store, seqBefore);
  const streamed = streams?.stop(d.unique);
  return {
    mode,
    events: sent,
    requests: load.requests,
    errors: failures,
    eventsPerSecond: Math.round(sent / seconds),
    publishP50Ms: load.latencyP50,
    publishP99Ms: load.latencyP99,
    lagP50Ms: lag?.p50 ?? null,
    lagP99Ms: lag?.p99 ?? null,
    exact: exact && (streamed?.exact ?? true),
    cpuUsPerEvent: { ...cpu, total: cpu.load + cpu.api + cpu.worker + cpu.redis + cpu.store },
    streams: streamed && {
      ...streamed,
      apiCpuUsPerDelivered: Math.round(((cpuAfter.api - cpuBefore.api) * 1e6) / streamed.delivered),
    },
    detail: `received ${d.received}/${sent}, unique ${d.unique}/${factory.unique}, duplicates ${d.duplicates}`,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      modes: { type: 'string', default: 'batch,single,lag,stream,query,ceiling' },
      streams: { type: 'string' },
      'query-seconds': { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string', default: '100' },
      dup: { type: 'string', default: '0.2' },
      connections: { type: 'string' },
      'lag-rate': { type: 'string' },
      'lag-seconds': { type: 'string' },
      apis: { type: 'string', default: '1' },
      workers: { type: 'string', default: '1' },
      store: { type: 'string', default: 'sqlite' },
      smoke: { type: 'boolean', default: false },
      fill: { type: 'string' },
      topics: { type: 'string' },
      profile: { type: 'string' },
      client: { type: 'string', default: 'lean' },
      ids: { type: 'string', default: 'ordered' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}`);
    return n;
  };
  const smoke = values.smoke;
  const dup = num('dup', values.dup, 0.2, 0, 0.99);
  const batch = num('batch', values.batch, 100, 1, 10_000);
  const client = values.client;
  if (client !== 'lean' && client !== 'autocannon') throw new Error('--client must be lean or autocannon');
  const ids = values.ids;
  if (ids !== 'ordered' && ids !== 'random') throw new Error('--ids must be ordered or random');
  const topics = num('topics', values.topics, 8, 1, 100_000);
  const modes = values.modes.split(',').map((m) => m.trim()) as Array<
    'ceiling' | 'batch' | 'single' | 'lag' | 'stream' | 'query'
  >;
  for (const m of modes) {
    if (!['ceiling', 'batch', 'single', 'lag', 'stream', 'query'].includes(m)) throw new Error(`unknown mode "${m}"`);
  }

  const storeKind = values.store;
  if (storeKind !== 'sqlite' && storeKind !== 'postgres') throw new Error('--store must be sqlite or postgres');

  const dir = mkdtempSync(join(tmpdir(), 'aggregator-bench-'));
  // A private PostgreSQL runs as the "postgres" user when we are root: it must enter the directory.
  if (storeKind === 'postgres') chmodSync(dir, 0o755);
  const stack = await startLocalStack({
    apis: num('apis', values.apis, 1, 1, 16),
    workers: num('workers', values.workers, 1, 1, 16),
    port: await freePort(),
    dataDir: dir,
    store: storeKind,
    databaseUrl: process.env.DATABASE_URL || undefined,
    nodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : undefined,
  });
  let store: EventStoreReader;
  try {
    store = await openStoreReader(loadConfig({ ...stack.env, DATABASE_POOL_SIZE: '2' }));
  } catch (e: unknown) {
    await stack.stop();
    throw e;
  }
  const bench: Bench = { stack, store };
  const results: ModeResult[] = [];
  let queries: (QueryResult & { storedEvents: number; topics: number }) | undefined;
  let ceilings: Ceilings | undefined;
  let redisMb: { used: number; peak: number } | undefined;
  try {
    let singlePeak = 0;
    const fill = num('fill', values.fill, 0, 0, 1e9);
    // In chunks that stay under MAX_QUEUE_DEPTH: the generator does not retry a 429 as a producer would.
    const started = performance.now();
    for (let filled = 0; filled < fill; ) {
      const chunk = Math.min(FILL_CHUNK, fill - filled);
      const r = await runMode(bench, 'fill', { events: chunk, batch, dup, connections: 16, ids, topics });
      if (!r.exact) throw new Error(`fill chunk not exact: ${r.detail}`);
      filled += r.events;
      const rate = Math.round(filled / ((performance.now() - started) / 1000));
      process.stdout.write(
        `filled ${filled}/${fill} events (${rate} events/s so far, this chunk ${r.eventsPerSecond})\n`,
      );
    }
    for (const mode of modes) {
      if (mode === 'ceiling') {
        // Its keys and jobs are not the service's: when it runs last, Redis's memory is read before it.
        if (mode === modes.at(-1)) redisMb = await redisMemoryMb(stack.redisUrl);
        ceilings = await measureCeilings({
          dir,
          postgres: stack.postgres && {
            adminUrl: stack.postgres.server?.url ?? stack.postgres.url,
            serverPid: stack.postgres.server?.child.pid,
          },
          redisUrl: stack.redisUrl,
          redisPid: stack.redis?.child.pid,
          requests: smoke ? 300 : 20_000,
          connections: num('connections', values.connections, smoke ? 8 : 64, 1, 1024),
          events: smoke ? 2000 : 200_000,
          jobs: smoke ? 200 : 20_000,
          dup,
        });
      } else if (mode === 'batch') {
        results.push(
          await runMode(bench, 'batch', {
            events: num('events', values.events, smoke ? 2000 : 200_000, 1, 1e9),
            batch,
            dup,
            connections: num('connections', values.connections, smoke ? 4 : 16, 1, 1024),
            client,
            ids,
            topics,
          }),
        );
      } else if (mode === 'single') {
        const r = await runMode(bench, 'single', {
          events: num('events', values.events, smoke ? 500 : 60_000, 1, 1e9),
          batch: 1,
          dup,
          connections: num('connections', values.connections, smoke ? 8 : 64, 1, 1024),
          client,
          ids,
          topics,
        });
        singlePeak = r.eventsPerSecond;
        results.push(r);
      } else if (mode === 'query') {
        const seconds = num('query-seconds', values['query-seconds'], smoke ? 1 : 5, 1, 3600);
        const stored = await maxSeq(store);
        const q = await runQueries(stack.url, topics, stored, seconds);
        queries = { ...q, storedEvents: stored, topics };
      } else {
        const rate = num('lag-rate', values['lag-rate'], Math.max(50, Math.round((singlePeak || 2000) / 2)), 1, 1e7);
        const seconds = num('lag-seconds', values['lag-seconds'], smoke ? 1 : 10, 1, 3600);
        const streams = mode === 'stream' ? num('streams', values.streams, smoke ? 5 : 50, 1, 10_000) : undefined;
        results.push(
          await runMode(bench, mode, {
            events: rate * seconds,
            batch: 1,
            dup,
            connections: 16,
            rate,
            client,
            ids,
            topics,
            streams,
          }),
        );
      }
    }
    const memory = {
      apiPeakRssMb: treePids(stack.api.pid).map(peakRssMb),
      workerPeakRssMb: stack.workers.map((w) => peakRssMb(w.pid)),
      redisMb: redisMb ?? (await redisMemoryMb(stack.redisUrl)),
    };
    process.stdout.write(`store: ${describeBenchStore(stack)}, workers: ${stack.workers.length}\n`);
    printTable(results, memory);
    for (const { streams } of results) {
      if (!streams) continue;
      process.stdout.write(
        `stream: ${streams.streams} streams, ${streams.delivered} events delivered, publish -> delivered ` +
          `p50 ${streams.p50Ms} ms, p99 ${streams.p99Ms} ms, max ${streams.maxMs} ms; API CPU ` +
          `${streams.apiCpuUsPerDelivered} µs per delivered event (publishing included); exact ${streams.exact}\n`,
      );
    }
    for (const line of ceilings ? describeCeilings(ceilings) : []) process.stdout.write(`${line}\n`);
    if (queries) {
      const { exact, pattern } = queries;
      const line = (what: string, q: QueryFigures) =>
        `query ${what}&after=<random>&limit=100 over ${queries?.storedEvents} stored events in ${queries?.topics} topics: ` +
        `${q.pagesPerSecond} pages/s, p50 ${q.p50} ms, p99 ${q.p99} ms, errors ${q.errors}\n`;
      process.stdout.write(line('?topic=<one>', exact));
      process.stdout.write(line('?topic_pattern=bench.g<k>.* (4 topics)', pattern));
      process.stdout.write(
        `query pattern/exact: p50 ${(pattern.p50 / exact.p50).toFixed(2)}, p99 ${(pattern.p99 / exact.p99).toFixed(2)}, ` +
          `pages/s ${(pattern.pagesPerSecond / exact.pagesPerSecond).toFixed(2)}\n`,
      );
    }
    const setup = { store: storeKind, workers: stack.workers.length, apis: num('apis', values.apis, 1, 1, 16) };
    process.stdout.write(`${JSON.stringify({ setup, results, queries, memory, ceilings })}\n`);
    const ceilingErrors = ceilings?.http.reduce((sum, h) => sum + h.errors, 0) ?? 0;
    if (!results.every((r) => r.exact) || (queries?.errors ?? 0) > 0 || ceilingErrors > 0) process.exitCode = 1;
  } finally {
    await store.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeBenchStore(stack: LocalStack): string {
  if (!stack.postgres) return 'SQLite (temp file)';
  return stack.postgres.server
    ? 'PostgreSQL (private server; store CPU = postmaster and all its processes)'
    : 'PostgreSQL at DATABASE_URL (its CPU is not measured: store = 0)';
}

function printTable(results: ModeResult[], memory: Record<string, unknown>): void {
  const rows = [
    [
      'mode',
      'events',
      'events/s',
      'publish p50',
      'publish p99',
      'lag p50',
      'lag p99',
      'errors',
      'CPU µs/event (load+api+worker+redis+store)',
      'exact',
    ],
    ...results.map((r) => [
      r.mode,
      String(r.events),
      String(r.eventsPerSecond),
      `${r.publishP50Ms} ms`,
      `${r.publishP99Ms} ms`,
      r.lagP50Ms === null ? '–' : `${r.lagP50Ms} ms`,
      r.lagP99Ms === null ? '–' : `${r.lagP99Ms} ms`,
      String(r.errors),
      (({ load, api, worker, redis, store, total }) => `${total} (${load}+${api}+${worker}+${redis}+${store})`)(
        r.cpuUsPerEvent,
      ),
      r.exact ? 'yes' : `NO (${r.detail})`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
  process.stdout.write(`memory: ${JSON.stringify(memory)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
