import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { type ProcessStack, withProcessStack } from './support/processStack.js';
import { waitUntil } from './support/waitUntil.js';
import { withTempDir } from './support/withStack.js';

/**
 * The k6 scripts under a real k6 binary, against a stack of real processes: every script must
 * exit 0 with its counter verification executed and exact, and the verification must catch a
 * count that does not match. k6 is not packaged for Debian, so these run only when K6_BIN names a
 * k6 (load/k6/README.md says how to get one); without it they skip and say so, in CI too.
 */

const K6_BIN = process.env.K6_BIN;
const K6_DIR = join(REPO_ROOT, 'load', 'k6');
const BALANCES = [
  'verify_acked_fresh_minus_stored',
  'verify_sent_fresh_minus_stored',
  'verify_acked_minus_received',
  'verify_sent_minus_received',
] as const;

/** `--summary-export`'s view of one metric: its values, and per threshold whether it failed. */
interface ExportedMetric {
  count?: number;
  passes?: number;
  fails?: number;
  thresholds?: Record<string, boolean>;
}

interface K6Run {
  code: number | null;
  output: string;
  metrics: Record<string, ExportedMetric>;
}

interface K6Options {
  /** The stack under load; without one, BASE_URL must be in `env`. */
  stack?: ProcessStack;
  script: string;
  env: Record<string, string>;
  /** Called once k6 runs, e.g. to interrupt it. */
  during?: (child: ChildProcess) => Promise<void>;
}

function runK6({ stack, script, env, during }: K6Options): Promise<K6Run> {
  return withTempDir(async (dir) => {
    const summary = join(dir, 'summary.json');
    const vars = { BASE_URL: stack?.apiUrl ?? '', POLL_INTERVAL: '100ms', ...env };
    const args = ['run', '--quiet', '--no-color', '--address=', '--summary-export', summary];
    for (const [name, value] of Object.entries(vars)) args.push('-e', `${name}=${value}`);
    const child = spawn(K6_BIN as string, [...args, script], { cwd: K6_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await during?.(child);
    } catch (e) {
      child.kill('SIGKILL');
      await exited;
      throw e;
    }
    const code = await exited;
    let metrics: Record<string, ExportedMetric> = {};
    try {
      metrics = JSON.parse(readFileSync(summary, 'utf8')).metrics;
    } catch {
      // no summary: k6 failed before the end of the run; the output says why
    }
    return { code, output, metrics };
  });
}

/** The thresholds that failed, as `metric: expression`. */
function failedThresholds(run: K6Run): string[] {
  return Object.entries(run.metrics).flatMap(([name, metric]) =>
    Object.entries(metric.thresholds ?? {})
      .filter(([, failed]) => failed)
      .map(([expression]) => `${name}: ${expression}`),
  );
}

function expectVerified(run: K6Run): void {
  const context = `k6 exited ${run.code}:\n${run.output.slice(-3000)}`;
  expect(run.output, context).to.include("the teardown's checks passed");
  expect(run.metrics.counters_verified?.passes, context).to.equal(1);
  for (const balance of BALANCES) expect(run.metrics[balance]?.thresholds, `${balance}\n${context}`).to.exist;
}

/** Waits until the run's events are flowing (so setup() has read its baseline). */
function runUnderWay(stack: ProcessStack): Promise<unknown> {
  return waitUntil(async () => (await stack.stats()).received > 0, {
    what: 'the k6 run to publish',
    timeoutMs: 30_000,
  });
}

describe('k6 scripts under a real k6 (K6_BIN)', function () {
  this.timeout(180_000);

  before(function () {
    if (!K6_BIN) {
      console.log(
        '    skipped: K6_BIN is not set; point it at a k6 binary (v1.x) to run the k6 scripts for real ' +
          '(load/k6/README.md)',
      );
      this.skip();
    }
  });

  const complete: Array<{ script: string; env: Record<string, string>; acked?: number }> = [
    { script: 'single.js', env: { ITERATIONS: '300', VUS: '5' }, acked: 300 },
    { script: 'batch.js', env: { ITERATIONS: '60', VUS: '3', BATCH_SIZE: '25' }, acked: 1500 },
    { script: 'duplicates.js', env: { ITERATIONS: '100', VUS: '4', BATCH_SIZE: '10', TOPICS: '3' }, acked: 1000 },
    { script: 'ramping.js', env: { STAGES: '2s:60,1s:0', START_RATE: '20', PRE_ALLOCATED_VUS: '5' } },
    { script: 'soak.js', env: { DURATION: '3s', RATE: '20', PRE_ALLOCATED_VUS: '5' } },
  ];
  for (const { script, env, acked } of complete) {
    it(`${script} exits 0 with its counter verification executed and exact`, async () => {
      await withProcessStack({}, async (stack) => {
        const run = await runK6({ stack, script, env });
        expect(run.code, run.output.slice(-3000)).to.equal(0);
        expectVerified(run);
        // Every iteration that started was acknowledged, so each balance is exactly zero.
        for (const balance of BALANCES) expect(run.metrics[balance]?.count, balance).to.equal(0);
        const events = run.metrics.events_acked?.count ?? 0;
        if (acked !== undefined) expect(events).to.equal(acked);
        expect(events).to.be.greaterThan(0);
        const stats = await stack.stats();
        const duplicates = run.metrics.events_duplicate_sent?.count ?? 0;
        expect(stats.received).to.equal(events);
        expect(stats.duplicate_dropped).to.equal(duplicates);
        expect(stats.unique_processed).to.equal(events - duplicates);
      });
    });
  }

  it('stops at once, saying why, when the host of BASE_URL does not resolve', async () => {
    const started = Date.now();
    const run = await runK6({ script: 'batch.js', env: { BASE_URL: 'http://lb.invalid:8080' } });
    expect(run.code).to.equal(107); // setup() failed
    expect(run.output).to.include('BASE_URL http://lb.invalid:8080').and.include('Is the service running?');
    // Not after RETRY_BUDGET (30 s) of retries.
    expect(Date.now() - started).to.be.below(15_000);
  });

  it('verifies exactly when iterations are dropped', async () => {
    await withProcessStack({}, async (stack) => {
      // One VU cannot start 400 iterations a second, so k6 drops most of them.
      const run = await runK6({
        stack,
        script: 'ramping.js',
        env: {
          STAGES: '2s:400',
          START_RATE: '400',
          PRE_ALLOCATED_VUS: '1',
          MAX_VUS: '1',
          MAX_DROPPED_ITERATIONS: '100000',
        },
      });
      expect(run.code, run.output.slice(-3000)).to.equal(0);
      expect(run.metrics.dropped_iterations?.count).to.be.greaterThan(0);
      expectVerified(run);
      for (const balance of BALANCES) expect(run.metrics[balance]?.count, balance).to.equal(0);
      expect((await stack.stats()).received).to.equal(run.metrics.events_acked?.count);
    });
  });

  it('still verifies what can be verified when the run is stopped with Ctrl-C', async () => {
    await withProcessStack({}, async (stack) => {
      const run = await runK6({
        stack,
        script: 'batch.js',
        env: { ITERATIONS: '1000000', VUS: '4', BATCH_SIZE: '10' },
        during: async (child) => {
          await runUnderWay(stack);
          child.kill('SIGINT');
        },
      });
      // k6's code for a run stopped by a signal; the teardown ran all the same.
      expect(run.code, run.output.slice(-3000)).to.equal(105);
      expectVerified(run);
      expect(failedThresholds(run).filter((t) => t.startsWith('verify_'))).to.deep.equal([]);
      expect(run.metrics.events_acked?.count).to.be.greaterThan(0);
    });
  });

  it('fails the run when the service received an event more than the run sent', async () => {
    await withProcessStack({}, async (stack) => {
      const run = await runK6({
        stack,
        script: 'batch.js',
        env: { ITERATIONS: '400', VUS: '2', BATCH_SIZE: '10' },
        during: async () => {
          await runUnderWay(stack);
          // A copy of one of the run's events, as from a producer outside the run: the service
          // counts it as received and duplicate, which the run cannot account for.
          const [stored] = (await (await fetch(`${stack.apiUrl}/events?limit=1`)).json()) as Array<
            Record<string, unknown>
          >;
          const { topic, event_id, timestamp, source, payload } = stored ?? {};
          const res = await stack.publish([{ topic, event_id, timestamp, source, payload }]);
          expect(res.status).to.equal(200);
        },
      });
      expect(run.code, run.output.slice(-3000)).to.equal(99); // thresholds failed
      expect(failedThresholds(run)).to.deep.equal(['verify_sent_minus_received: count>=0']);
    });
  });
});
