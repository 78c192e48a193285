import { ManagedChild, REPO_ROOT } from '@aggregator/load';
import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';

describe('npm run bench (smoke)', function () {
  this.timeout(120_000);
  before(requireTool(REDIS_SERVER));

  it('runs every mode on a fresh stack and finds the counters exact', async () => {
    const bench = new ManagedChild({
      name: 'bench',
      command: process.execPath,
      args: [`${REPO_ROOT}load/dist/bench.js`, '--smoke'],
    });
    const { code } = await bench.exited;
    expect(code, bench.tail()).to.equal(0);
    const line = bench.lines.findLast((l) => l.startsWith('{"results"'));
    expect(line, bench.tail()).to.be.a('string');
    const report = JSON.parse(line as string) as {
      results: Array<{ mode: string; exact: boolean; errors: number }>;
      queries: { errors: number };
      memory: { apiPeakRssMb: number[]; workerPeakRssMb: number[] };
      ceilings: {
        http: Array<{ server: string; requests: number; errors: number }>;
        sqlite: { rows: number };
        store: { rows: number; rowsPerSecond: number };
        redis: { setNx: number };
        bullmq: { jobs: number; jobsPerSecond: number };
      };
    };
    expect(report.results.map((r) => r.mode)).to.deep.equal(['batch', 'single', 'lag']);
    for (const r of report.results) expect(r, r.mode).to.include({ exact: true, errors: 0 });
    expect(report.queries.errors).to.equal(0);
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
});
