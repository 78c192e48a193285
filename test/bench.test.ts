import { ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { requirePostgres } from './support/postgres.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';

/** The JSON line the bench prints last (the parts the tests read). */
interface BenchReport {
  setup: { store: string; matrix?: boolean; scaling?: boolean; writers?: number[] };
  storeScaling?: Array<{ writers: number; round: number; rows: number; eventsPerSecond: number }>;
  results: Array<{
    mode: string;
    exact: boolean;
    errors: number;
    cpuUsPerEvent: Record<string, number>;
    redisNodes: Array<{ port: number; role: string; cpuUsPerEvent: number }>;
    // The matrix's (--partitions, --redis) only.
    redis?: string;
    partitions?: number;
    shardsUsPerEvent?: number[];
    mastersUsPerEvent?: number;
    maxShardShare?: number;
    streams?: { streams: number; delivered: number; exact: boolean };
    lockWait?: { samples: number; lockWaits: number; share: number };
    // The scaling matrix's (--apis/--workers lists) only.
    apis?: number;
    workers?: number;
    round?: number;
  }>;
  queries: { errors: number; clientRead: { events: number; exact: boolean } };
  memory: { apiPeakRssMb: number[]; workerPeakRssMb: number[] };
  ceilings: {
    http: Array<{ server: string; requests: number; errors: number }>;
    sqlite: { rows: number };
    store: { kind: string; rows: number; rowsPerSecond: number; serverCpuUsPerEvent: number };
    redis: { setNx: number };
    bullmq: { jobs: number; jobsPerSecond: number };
  };
}

describe('npm run bench (smoke)', function () {
  this.timeout(120_000);
  before(requireTool(REDIS_SERVER));

  const runBench = async (args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    const bench = new ManagedChild({
      name: 'bench',
      command: process.execPath,
      args: [`${REPO_ROOT}load/dist/bench.js`, '--smoke', ...args],
      env,
    });
    const { code } = await bench.exited;
    expect(code, bench.tail()).to.equal(0);
    const line = bench.lines.findLast((l) => l.startsWith('{"setup"'));
    expect(line, bench.tail()).to.be.a('string');
    return JSON.parse(line as string) as BenchReport;
  };

  it('runs every mode on a fresh stack and finds the counters exact', async () => {
    // The fill publishes through @aggregator/client; a fill chunk that is not exact fails the run.
    const report = await runBench(['--fill', '1000']);
    expect(report.setup.store).to.equal('sqlite');
    expect(report.results.map((r) => r.mode)).to.deep.equal(['batch', 'single', 'lag', 'stream']);
    // Every stream received every new event once, in order.
    const streamed = report.results.find((r) => r.mode === 'stream')?.streams;
    expect(streamed).to.include({ streams: 5, exact: true });
    expect(streamed?.delivered).to.be.above(0);
    for (const r of report.results) {
      expect(r, r.mode).to.include({ exact: true, errors: 0 });
      // SQLite works inside the workers: no store server to count.
      expect(r.cpuUsPerEvent.store, r.mode).to.equal(0);
    }
    expect(report.queries.errors).to.equal(0);
    // The consumer side: a pattern read whole through @aggregator/client's pages().
    expect(report.queries.clientRead.exact).to.equal(true);
    expect(report.queries.clientRead.events).to.be.above(0);
    expect(report.memory.workerPeakRssMb[0]).to.be.a('number').above(0);
    const { http, sqlite, store, redis, bullmq } = report.ceilings;
    expect(http.map((h) => h.server)).to.deep.equal(['http', 'koa']);
    for (const h of http) expect(h, h.server).to.include({ requests: 300, errors: 0 });
    // 2,000 events at 20 % duplicates: 1,600 distinct pairs.
    expect(sqlite.rows).to.equal(1600);
    expect(store.rows).to.equal(1600);
    expect(store.rowsPerSecond).to.be.above(0);
    // Every SET NX of a new key answers OK; jobs counts the jobs the no-op worker completed.
    expect(redis.setNx).to.equal(2000);
    expect(bullmq).to.include({ jobs: 200 });
    expect(bullmq.jobsPerSecond).to.be.above(0);
  });

  it('runs on a private PostgreSQL with --store postgres, counting its CPU, and finds the counters exact', async function () {
    requirePostgres(this, { ownServer: true });
    const report = await runBench(['--store', 'postgres', '--modes', 'batch,lag,query,ceiling']);
    expect(report.setup.store).to.equal('postgres');
    expect(report.results.map((r) => r.mode)).to.deep.equal(['batch', 'lag']);
    for (const r of report.results) {
      expect(r, r.mode).to.include({ exact: true, errors: 0 });
      // The PostgreSQL server works for every event it stores.
      expect(r.cpuUsPerEvent.store, `${r.mode} store CPU`).to.be.above(0);
    }
    expect(report.queries.errors).to.equal(0);
    expect(report.ceilings.store).to.include({ kind: 'postgres', rows: 1600 });
    expect(report.ceilings.store.serverCpuUsPerEvent).to.be.above(0);
    // The writers' lock-wait share was sampled while the batch mode ran.
    const lockWait = report.results.find((r) => r.mode === 'batch')?.lockWait;
    expect(lockWait?.samples).to.be.above(0);
    expect(lockWait?.share).to.be.within(0, 1);
  });

  it('measures the PostgreSQL store alone with 1 and 2 concurrent writers, every row stored once', async function () {
    requirePostgres(this, { ownServer: true });
    const report = await runBench(['--store', 'postgres', '--modes', 'ceiling', '--writers', '1,2', '--rounds', '2']);
    expect(report.setup.writers).to.deep.equal([1, 2]);
    expect(report.storeScaling?.map((r) => [r.round, r.writers])).to.deep.equal([
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
    ]);
    // 2,000 events at 20 % duplicates, split between the writers: 1,600 rows whatever their number.
    for (const r of report.storeScaling ?? []) expect(r.rows, `${r.writers} writers`).to.equal(1600);
  });

  it('runs a scaling matrix of --workers 1,2 on fresh stacks, every cell exact', async () => {
    const report = await runBench(['--workers', '1,2', '--rounds', '1']);
    expect(report.setup.scaling).to.equal(true);
    expect(report.results.map((r) => [r.round, r.apis, r.workers, r.mode])).to.deep.equal([
      [1, 1, 1, 'batch'],
      [1, 1, 2, 'batch'],
    ]);
    for (const r of report.results) expect(r).to.include({ exact: true, errors: 0 });
  });

  it('runs --partitions 4 --redis cluster on a private 3-master + 3-replica cluster, and measures each shard', async () => {
    const report = await runBench(['--partitions', '4', '--redis', 'cluster']);
    expect(report.setup.matrix).to.equal(true);
    expect(report.results.map((r) => [r.redis, r.partitions, r.mode])).to.deep.equal([['cluster', 4, 'batch']]);
    const [r] = report.results;
    if (!r) throw new Error('no result');
    expect(r).to.include({ exact: true, errors: 0 });
    expect(r.redisNodes.map((n) => n.role).sort()).to.deep.equal([
      'master',
      'master',
      'master',
      'replica',
      'replica',
      'replica',
    ]);
    expect(new Set(r.redisNodes.map((n) => n.port)).size).to.equal(6);
    // Four partitions on three masters: at least two shards worked for the events.
    const shards = r.shardsUsPerEvent ?? [];
    expect(shards).to.have.length(3);
    expect(shards.filter((us) => us > 0)).to.have.length.at.least(2);
    expect(r.mastersUsPerEvent).to.be.closeTo(
      shards.reduce((a, b) => a + b, 0),
      0.01,
    );
    expect(r.maxShardShare).to.be.within(1 / 3, 1);
    // The redis part of the CPU is every node's, masters and replicas.
    expect(r.cpuUsPerEvent.redis).to.be.closeTo(
      r.redisNodes.reduce((total, n) => total + n.cpuUsPerEvent, 0),
      1,
    );
  });
});
