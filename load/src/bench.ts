import { parseArgs } from 'node:util';
import { integerOption } from '@aggregator/common';
import type { LocalStack } from '@aggregator/stack';
import { type BenchStackOptions, withBenchStack } from './bench/benchStack.js';
import { type Ceilings, describeCeilings, measureCeilings, measureStoreScaling } from './bench/ceilings.js';
import { describeCpu, formatTable } from './bench/formatTable.js';
import { maxSeq, peakRssMb, redisMemoryMb, treePids } from './bench/measure.js';
import { printMatrix, runPartitionMatrix } from './bench/partitionMatrix.js';
import { type QueryFigures, type QueryResult, runQueries } from './bench/queryLoad.js';
import { type Bench, type ModeResult, runMode } from './bench/runMode.js';
import { printScalingMatrix, printStoreScaling, runScalingMatrix } from './bench/scalingMatrix.js';

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
  --apis N[,N…]       API replicas (node cluster on one port)     default 1
  --workers N[,N…]    worker processes                            default 1
                      A list in either runs a scaling matrix: a fresh stack for every
                      apis × workers, one mode (batch by default, or single), --rounds
                      times with every set-up once per round; one table of medians,
                      each set-up's events/s as a ratio to the first's in the same round,
                      and on PostgreSQL the writers' share of transaction time waiting on a
                      lock (pg_stat_activity sampled every 10 ms; every PostgreSQL mode
                      reports it)
  --writers LIST      with --modes ceiling: the store alone with each number of concurrent
                      writers (e.g. 1,2,4), --rounds times, one table (the other ceilings
                      are skipped)
  --rounds N          rounds of a scaling matrix or of --writers     default 3
  --store S           sqlite, or postgres: a private PostgreSQL (durable, as SQLite
                      is with its default SQLITE_SYNCHRONOUS=FULL), or the database
                      at DATABASE_URL when set (its CPU is then not measured)
                                                                  default sqlite
  --fill N            store N events (batches, duplicates as --dup) before the modes, to
                      measure ingest and queries on a large store
  --partitions LIST   QUEUE_PARTITIONS to run, comma-separated (e.g. 1,4,8)    default 1
  --redis LIST        single (one private redis-server) and/or cluster (a private Redis
                      Cluster: 3 masters + a replica each, AOF on every node)  default single
                      With either of these two the bench runs a matrix: a fresh stack for every
                      topology × P, the modes batch (default) and/or single only, and prints one
                      table, side by side: events/s, the Redis CPU µs per event of the masters
                      (from INFO cpu), of each shard (= master), the busiest shard's share of it,
                      and the replicas'
  --wait-replicas N   REDIS_WAIT_REPLICAS on the cluster: 0 (default) or 1 (each shard has
                      one replica); the single Redis has none to wait for and runs with 0
  --smoke             tiny run for CI: correctness, not speed
  --profile DIR       write a V8 CPU profile of every service process into DIR
  --ids STYLE         ordered (default: <run>-<n>, like UUIDv7/ULID) or random (like
                      UUIDv4: each insert lands on a random page of the primary-key index)
  --client NAME       lean (the default), autocannon to cross-check the generator, or
                      aggregator: @aggregator/client, as a producer publishes (the fill always does)
  -h, --help`;

/** Events per fill chunk: well under the default MAX_QUEUE_DEPTH of 1,000,000. */
const FILL_CHUNK = 500_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      modes: { type: 'string' },
      streams: { type: 'string' },
      partitions: { type: 'string' },
      redis: { type: 'string' },
      'wait-replicas': { type: 'string' },
      'query-seconds': { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string', default: '100' },
      dup: { type: 'string', default: '0.2' },
      connections: { type: 'string' },
      'lag-rate': { type: 'string' },
      'lag-seconds': { type: 'string' },
      apis: { type: 'string', default: '1' },
      workers: { type: 'string', default: '1' },
      writers: { type: 'string' },
      rounds: { type: 'string' },
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
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) =>
    integerOption(name, raw, min, max, fallback);
  const smoke = values.smoke;
  const dup = values.dup === undefined ? 0.2 : Number(values.dup);
  if (values.dup?.trim() === '' || !(dup >= 0 && dup <= 0.99)) throw new Error('--dup must be a number from 0 to 0.99');
  const batch = int('batch', values.batch, 100, 1, 10_000);
  const client = oneOf('client', values.client, ['lean', 'autocannon', 'aggregator'] as const);
  const ids = oneOf('ids', values.ids, ['ordered', 'random'] as const);
  const topics = int('topics', values.topics, 8, 1, 100_000);
  const storeKind = oneOf('store', values.store, ['sqlite', 'postgres'] as const);
  const list = (name: string, raw: string, max: number) => raw.split(',').map((n) => int(name, n.trim(), 1, 1, max));
  const apisList = list('apis', values.apis, 16);
  const workersList = list('workers', values.workers, 16);
  const rounds = int('rounds', values.rounds, smoke ? 1 : 3, 1, 100);
  const stackOptions = {
    apis: apisList[0] as number,
    workers: workersList[0] as number,
    store: storeKind,
    profile: values.profile,
  } satisfies Partial<BenchStackOptions>;
  const setup = { store: storeKind, workers: stackOptions.workers, apis: stackOptions.apis };
  const connections = (fallback: number, smokeFallback: number) =>
    int('connections', values.connections, smoke ? smokeFallback : fallback, 1, 1024);
  const modeOptions = (mode: 'batch' | 'single') =>
    mode === 'batch'
      ? {
          events: int('events', values.events, smoke ? 2000 : 200_000, 1, 1_000_000_000),
          batch,
          dup,
          connections: connections(16, 4),
          client,
          ids,
          topics,
        }
      : {
          events: int('events', values.events, smoke ? 500 : 60_000, 1, 1_000_000_000),
          batch: 1,
          dup,
          connections: connections(64, 8),
          client,
          ids,
          topics,
        };

  if (values.writers !== undefined) {
    if (values.modes !== 'ceiling') throw new Error('--writers measures the store alone: it needs --modes ceiling');
    const writers = list('writers', values.writers, 64);
    const events = int('events', values.events, smoke ? 2000 : 200_000, 1, 1_000_000_000);
    await withBenchStack({ ...stackOptions, redis: 'single', partitions: 1 }, async ({ stack }, dir) => {
      const results = await measureStoreScaling(
        {
          ...ceilingTarget(stack, dir),
          requests: 0,
          connections: 1,
          events,
          jobs: 0,
          dup,
        },
        writers,
        rounds,
      );
      process.stdout.write(
        `store alone (${describeBenchStore(stack)}), ${events} events in transactions of 1,000, ${rounds} round(s)\n`,
      );
      printStoreScaling(results, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write(`${JSON.stringify({ setup: { ...setup, writers }, storeScaling: results })}\n`);
    });
    return;
  }

  if (apisList.length > 1 || workersList.length > 1) {
    const mode = oneOf('modes', values.modes ?? 'batch', ['batch', 'single'] as const);
    const cells = await runScalingMatrix({
      apis: apisList,
      workers: workersList,
      rounds,
      mode,
      stack: { store: storeKind, profile: values.profile },
      modeOptions: modeOptions(mode),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`store: ${storeKind}, mode: ${mode}, ${rounds} round(s), a fresh stack per cell\n`);
    printScalingMatrix(cells, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`${JSON.stringify({ setup: { ...setup, scaling: true }, results: cells })}\n`);
    if (!cells.every((c) => c.exact)) process.exitCode = 1;
    return;
  }

  if (values.partitions !== undefined || values.redis !== undefined || values['wait-replicas'] !== undefined) {
    const modes = listOption('modes', values.modes ?? 'batch', ['batch', 'single'] as const);
    const topologies = listOption('redis', values.redis ?? 'single', ['single', 'cluster'] as const);
    const partitions = (values.partitions ?? '1').split(',').map((p) => int('partitions', p.trim(), 1, 1, 256));
    const results = await runPartitionMatrix({
      topologies,
      partitions,
      modes,
      stack: stackOptions,
      waitReplicas: int('wait-replicas', values['wait-replicas'], 0, 0, 1),
      mode: modeOptions,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      `store: ${storeKind}, apis: ${setup.apis}, workers: ${setup.workers}; cluster = 3 masters + 3 replicas, ` +
        'each shard = one master; Redis CPU from INFO cpu, µs per event of the whole run\n',
    );
    printMatrix(results, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`${JSON.stringify({ setup: { ...setup, matrix: true }, results })}\n`);
    if (!results.every((r) => r.exact)) process.exitCode = 1;
    return;
  }

  const modes = listOption('modes', values.modes ?? 'batch,single,lag,stream,query,ceiling', [
    'batch',
    'single',
    'lag',
    'stream',
    'query',
    'ceiling',
  ] as const);
  await withBenchStack({ ...stackOptions, redis: 'single', partitions: 1 }, async (bench, dir) => {
    const { stack, store } = bench;
    const results: ModeResult[] = [];
    let queries: (QueryResult & { storedEvents: number; topics: number }) | undefined;
    let ceilings: Ceilings | undefined;
    let redisMb: { used: number; peak: number } | undefined;
    let singlePeak = 0;
    await fillStore(bench, int('fill', values.fill, 0, 0, 1_000_000_000), { batch, dup, ids, topics });
    for (const mode of modes) {
      if (mode === 'ceiling') {
        // Its keys and jobs are not the service's: when it runs last, Redis's memory is read before it.
        if (mode === modes.at(-1)) redisMb = await redisMemoryMb(stack.redisUrl);
        ceilings = await measureCeilings({
          ...ceilingTarget(stack, dir),
          requests: smoke ? 300 : 20_000,
          connections: connections(64, 8),
          events: smoke ? 2000 : 200_000,
          jobs: smoke ? 200 : 20_000,
          dup,
        });
      } else if (mode === 'batch' || mode === 'single') {
        const r = await runMode(bench, mode, modeOptions(mode));
        if (mode === 'single') singlePeak = r.eventsPerSecond;
        results.push(r);
      } else if (mode === 'query') {
        const seconds = int('query-seconds', values['query-seconds'], smoke ? 1 : 5, 1, 3600);
        const stored = await maxSeq(store);
        const q = await runQueries(stack.url, store, topics, stored, seconds);
        queries = { ...q, storedEvents: stored, topics };
      } else {
        const rate = int(
          'lag-rate',
          values['lag-rate'],
          Math.max(50, Math.round((singlePeak || 2000) / 2)),
          1,
          10_000_000,
        );
        const seconds = int('lag-seconds', values['lag-seconds'], smoke ? 1 : 10, 1, 3600);
        const streams = mode === 'stream' ? int('streams', values.streams, smoke ? 5 : 50, 1, 10_000) : undefined;
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
      const read = queries.clientRead;
      process.stdout.write(
        `read ${read.pattern} whole through @aggregator/client: ${read.events} events in ${read.pages} pages, ` +
          `${read.exact ? 'exact' : 'NOT EXACT'}\n`,
      );
    }
    process.stdout.write(`${JSON.stringify({ setup, results, queries, memory, ceilings })}\n`);
    const ceilingErrors = ceilings?.http.reduce((sum, h) => sum + h.errors, 0) ?? 0;
    if (!results.every((r) => r.exact) || (queries?.errors ?? 0) > 0 || ceilingErrors > 0) process.exitCode = 1;
  });
}

/** An option whose value is one of `allowed`. */
function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!allowed.includes(raw as T)) throw new Error(`--${name}: "${raw}" is not one of ${allowed.join(', ')}`);
  return raw as T;
}

/** A comma-separated option whose every item is one of `allowed`. */
function listOption<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  return raw.split(',').map((item) => oneOf(name, item.trim(), allowed));
}

/**
 * Stores `events` events before the modes, through @aggregator/client as a producer would (a 429
 * is waited out and retried), in chunks under MAX_QUEUE_DEPTH so that the chunks stay exact.
 */
async function fillStore(
  bench: Bench,
  events: number,
  opts: { batch: number; dup: number; ids: 'ordered' | 'random'; topics: number },
): Promise<void> {
  const started = performance.now();
  for (let filled = 0; filled < events; ) {
    const chunk = Math.min(FILL_CHUNK, events - filled);
    const r = await runMode(bench, 'fill', { ...opts, events: chunk, connections: 16, client: 'aggregator' });
    if (!r.exact) throw new Error(`fill chunk not exact: ${r.detail}`);
    filled += r.events;
    const rate = Math.round(filled / ((performance.now() - started) / 1000));
    process.stdout.write(
      `filled ${filled}/${events} events (${rate} events/s so far, this chunk ${r.eventsPerSecond})\n`,
    );
  }
}

/** Where the ceilings write: the stack's Redis, and its PostgreSQL server or `dir` for SQLite. */
function ceilingTarget(stack: LocalStack, dir: string) {
  return {
    dir,
    postgres: stack.postgres && {
      adminUrl: stack.postgres.server?.url ?? stack.postgres.url,
      serverPid: stack.postgres.server?.child.pid,
    },
    redisUrl: stack.redisUrl,
    redisPid: stack.redis?.child.pid,
  };
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
      'lock wait',
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
      describeCpu(r.cpuUsPerEvent),
      r.lockWait ? `${Math.round(r.lockWait.share * 100)} %` : '–',
      r.exact ? 'yes' : `NO (${r.detail})`,
    ]),
  ];
  for (const line of formatTable(rows)) process.stdout.write(`${line}\n`);
  process.stdout.write(`memory: ${JSON.stringify(memory)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
