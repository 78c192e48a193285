import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  createKeys,
  createRedis,
  integerOption,
  parseMemoryBudget,
  quitRedis,
  type Redis,
  readRedisMemory,
  waitReady,
} from '@aggregator/common';
import { startRedisServer } from '@aggregator/stack';
import { FAST_PATH_LAYOUT, FastPath, fastPathGeometry } from '@aggregator/worker';

const HELP = `npm run bench:fastpath -- [options]

Measures the fast path against a private redis-server, without the rest of the service:
  1. Redis bytes per claim and Redis CPU per claim, with every generation full (steady state);
  2. the hit ratio under the budget, with 20 % duplicates: half retries that come back within
     --retry-window events, half replays drawn from further back, as far as --replay-reach times
     what the budget retains. An event skips the store only on a hit, so the hit ratio is the share
     of duplicates the fast path saves the store; a miss costs a store lookup, never an event.

  --budget SIZE       the fast path's budget (DEDUP_MEMORY_BUDGET syntax, a size)   default 8mb
  --events N          events per hit-ratio run                                      default 400000
  --retry-window N    retries come back within this many events                     default 5000
  --replay-reach LIST replays reach back this many times the retained claims        default 0.5,1,2,10
  -h, --help`;

function used(info: string, field: string): number {
  return Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1]);
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return used(info, 'used_cpu_user') + used(info, 'used_cpu_sys');
}

async function usedMemory(redis: Redis): Promise<number> {
  const [server] = await readRedisMemory(redis);
  return server?.used ?? Number.NaN;
}

const pairOf = (run: string, i: number) => ({ topic: `bench.${run}`, event_id: `e-${i}` });

/** Fills a fresh fast path to steady state and measures what each claim costs. */
async function steadyState(redis: Redis, budgetBytes: number) {
  const geometry = fastPathGeometry(budgetBytes, 86_400);
  const fastPath = new FastPath(redis, createKeys(`steady-${randomUUID().slice(0, 8)}`).queue(0), geometry);
  const before = await usedMemory(redis);
  // Past G + 1 generations every generation is full, and one is being deleted.
  const total = (geometry.generations + 2) * geometry.capacity;
  const cpu0 = await redisCpuSeconds(redis);
  for (let i = 0; i < total; i += 100) {
    await fastPath.claim(
      Array.from({ length: Math.min(100, total - i) }, (_, j) => pairOf('steady', i + j)),
      randomUUID(),
    );
  }
  const cpuPerClaimUs = (((await redisCpuSeconds(redis)) - cpu0) * 1e6) / total;
  const bytes = (await usedMemory(redis)) - before;
  // At most the newest `generations` generations are retained; the newest is partly full.
  const retained = geometry.generations * geometry.capacity;
  return { geometry, bytes, bytesPerRetainedClaim: bytes / retained, cpuPerClaimUs };
}

/** One hit-ratio run: a stream of new events with retries and replays mixed in. */
async function hitRatio(redis: Redis, budgetBytes: number, events: number, retryWindow: number, reach: number) {
  const geometry = fastPathGeometry(budgetBytes, 86_400);
  const run = randomUUID().slice(0, 8);
  const fastPath = new FastPath(redis, createKeys(`hits-${run}`).queue(0), geometry);
  const retainedLow = (geometry.generations - 1) * geometry.capacity;
  const replaySpan = Math.round(reach * retainedLow);
  let next = 0;
  const seen = { retry: 0, replay: 0 };
  const hits = { retry: 0, replay: 0 };
  let random = 1;
  // A fixed-seed generator (xorshift32): every run draws the same stream.
  const rand = () => {
    random ^= random << 13;
    random ^= random >>> 17;
    random ^= random << 5;
    return (random >>> 0) / 2 ** 32;
  };
  while (next < events) {
    const job: Array<{ kind: 'new' | 'retry' | 'replay'; pair: { topic: string; event_id: string } }> = [];
    for (let j = 0; j < 100; j++) {
      const draw = rand();
      if (draw < 0.1 && next > retryWindow) {
        job.push({ kind: 'retry', pair: pairOf(run, next - 1 - Math.floor(rand() * retryWindow)) });
      } else if (draw < 0.2 && next > replaySpan) {
        job.push({ kind: 'replay', pair: pairOf(run, next - 1 - Math.floor(rand() * replaySpan)) });
      } else {
        job.push({ kind: 'new', pair: pairOf(run, next++) });
      }
    }
    const holders = (await fastPath.claim(
      job.map((j) => j.pair),
      randomUUID(),
    )) as string[];
    job.forEach((j, i) => {
      if (j.kind === 'new') return;
      seen[j.kind]++;
      if (holders[i] !== '') hits[j.kind]++;
    });
  }
  return {
    reach,
    retainedClaims: retainedLow,
    retryHitRatio: hits.retry / seen.retry,
    replayHitRatio: hits.replay / seen.replay,
    duplicateHitRatio: (hits.retry + hits.replay) / (seen.retry + seen.replay),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      budget: { type: 'string', default: '8mb' },
      events: { type: 'string', default: '400000' },
      'retry-window': { type: 'string', default: '5000' },
      'replay-reach': { type: 'string', default: '0.5,1,2,10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const budget = parseMemoryBudget(values.budget);
  if (!('bytes' in budget)) throw new Error('--budget must be a size here (e.g. 8mb): there is no maxmemory');
  const events = integerOption('events', values.events, 1, Number.MAX_SAFE_INTEGER);
  const retryWindow = integerOption('retry-window', values['retry-window'], 1, Number.MAX_SAFE_INTEGER);
  const reaches = values['replay-reach'].split(',').map(Number);
  if (reaches.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error('--replay-reach takes positive numbers');

  const server = await startRedisServer({ logLevel: 'warning' });
  const redis = createRedis(server.url, 'blocking', 'bench-fastpath');
  try {
    await waitReady(redis, 5000);
    const steady = await steadyState(redis, budget.bytes);
    process.stdout.write(
      `budget ${budget.bytes} bytes: ${steady.geometry.capacity} claims a generation, ${steady.geometry.shards} hashes\n` +
        `steady state: ${steady.bytes} bytes used (${((100 * steady.bytes) / budget.bytes).toFixed(1)} % of the budget), ` +
        `${steady.bytesPerRetainedClaim.toFixed(1)} bytes per retained claim (budgeted: ${FAST_PATH_LAYOUT.bytesPerClaim}), ` +
        `${steady.cpuPerClaimUs.toFixed(2)} us of Redis CPU per claim\n`,
    );
    const rows = [];
    for (const reach of reaches) rows.push(await hitRatio(redis, budget.bytes, events, retryWindow, reach));
    console.table(
      rows.map((r) => ({
        'replays reach (x retained)': r.reach,
        'retained claims (at least)': r.retainedClaims,
        'retry hits %': (100 * r.retryHitRatio).toFixed(1),
        'replay hits %': (100 * r.replayHitRatio).toFixed(1),
        'all duplicates %': (100 * r.duplicateHitRatio).toFixed(1),
      })),
    );
    process.stdout.write(`${JSON.stringify({ steady: { ...steady, geometry: undefined }, hitRatio: rows })}\n`);
  } finally {
    await quitRedis(redis);
    await server.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
