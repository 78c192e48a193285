import { once } from 'node:events';
import {
  checkDeltas,
  DEFAULT_RETRY_POLICY,
  EventSource,
  type PublishSummary,
  parseRetryAfter,
  planEvents,
  retryDelay,
  type StatsSnapshot,
} from '@aggregator/load';
import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';

const CLI = `${REPO_ROOT}load/dist/publishCli.js`;

interface CliRun {
  child: ManagedChild;
  /** Everything written so far (raw, so no line is ever cut at a chunk boundary). */
  stdout(): string;
  stderr(): string;
  /** Waits for the exit and for both streams to be read to the end. */
  finished(): Promise<number | null>;
}

/**
 * The built CLI as a child process (a ManagedChild, so the leak check sees it), run by node or,
 * with `npm` (e.g. `['run', '-s', 'publish', '--']`), through the root package.json's script.
 */
function startCli(args: string[], env: Record<string, string> = {}, npm?: string[]): CliRun {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  // The npm running these tests may pass on its own settings (a silent `npm test -s`).
  for (const name of ['npm_config_loglevel', 'npm_config_json', 'npm_lifecycle_event']) delete merged[name];
  const child = new ManagedChild({
    name: 'publish-cli',
    command: npm ? 'npm' : process.execPath,
    args: npm ? [...npm, ...args] : [CLI, ...args],
    env: merged,
    cwd: REPO_ROOT,
  });
  let out = '';
  let err = '';
  child.process.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.process.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const ended = [child.process.stdout, child.process.stderr].map((s) =>
    s && !s.readableEnded ? once(s, 'end') : Promise.resolve(),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async finished() {
      const { code } = await child.exited;
      await Promise.all(ended);
      return code;
    },
  };
}

function summaryOf(run: CliRun): PublishSummary {
  const line = run
    .stdout()
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary on stdout\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
  return JSON.parse(line) as PublishSummary;
}

async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; run: CliRun }> {
  const run = startCli(args, env);
  try {
    return { code: await run.finished(), run };
  } finally {
    await run.child.kill();
  }
}

/**
 * Runs `outage` with the CLI frozen (SIGSTOP), so that the outage starts while the run is under
 * way however fast this machine sends, and lets the CLI go on (SIGCONT) whatever happens.
 */
async function whileFrozen(run: CliRun, outage: () => Promise<void>): Promise<void> {
  run.child.process.kill('SIGSTOP');
  try {
    await outage();
  } finally {
    run.child.process.kill('SIGCONT');
  }
}

function eventIndex(eventId: string): number {
  return Number(eventId.slice(eventId.lastIndexOf('-') + 1));
}

describe('publisher CLI', function () {
  this.timeout(120_000);

  describe('event plan', () => {
    it('sends exactly N events, N - round(N × dup) of them unique, each duplicate copying an earlier event', () => {
      for (const [events, dup, batch, concurrency] of [
        [2000, 0.2, 50, 4],
        [1000, 0.9, 7, 8],
        [17, 0.5, 100, 1],
        [5, 0, 2, 3],
        [3, 0.6, 1, 2],
      ] as const) {
        const plan = planEvents({ runId: 'run', events, dup, batch, topics: 3, startMs: 0 });
        const unique = events - Math.round(events * dup);
        expect(plan).to.include({ total: events, unique, duplicates: events - unique });
        // Hand out batches with up to `concurrency` in flight, acknowledging them out of order.
        const source = new EventSource(plan);
        const inFlight: ReturnType<EventSource['next']>[] = [];
        const acked = new Set<number>();
        const sent = new Set<number>();
        const pairs = new Set<string>();
        let total = 0;
        for (;;) {
          const batch = source.next();
          if (batch) {
            let uniques = 0;
            for (const event of batch.events) {
              const index = eventIndex(event.event_id);
              expect(event.topic).to.equal(`topic-${index % 3}`);
              pairs.add(`${event.topic}/${event.event_id}`);
              if (!sent.has(index)) {
                // A first copy: the unique events come in order.
                expect(index).to.equal(batch.firstUnique + uniques++);
                sent.add(index);
              } else if (acked.size > 0) {
                // A duplicate copies an acknowledged event when there is one…
                expect(acked.has(index), `duplicate of ${index}`).to.equal(true);
              } else {
                // …else one of an earlier batch, else an earlier one of its own batch.
                expect(index).to.be.below(batch.firstUnique > 0 ? batch.firstUnique : uniques);
              }
            }
            expect(uniques).to.equal(batch.uniqueCount);
            total += batch.events.length;
            inFlight.push(batch);
          }
          if (inFlight.length >= concurrency || (!batch && inFlight.length > 0)) {
            const done = inFlight.splice(Math.floor(Math.random() * inFlight.length), 1)[0];
            if (done) {
              source.acknowledge(done);
              for (let u = done.firstUnique; u < done.firstUnique + done.uniqueCount; u++) acked.add(u);
            }
          }
          if (!batch && inFlight.length === 0) break;
        }
        expect(total).to.equal(events);
        expect(pairs.size).to.equal(unique);
        expect(sent.size).to.equal(unique);
      }
    });
  });

  describe('exact check', () => {
    const at = (received: number, unique: number, dups: number, failed = 0): StatsSnapshot => ({
      received,
      unique_processed: unique,
      duplicate_dropped: dups,
      queue: { waiting: 0, active: 0, delayed: 0, failed },
    });

    it('passes only on the exact deltas when no request was re-sent', () => {
      const baseline = at(100, 80, 20);
      const exact = { baseline, sent: 2000, expectedUnique: 1600, resentEvents: 0 };
      expect(checkDeltas({ ...exact, final: at(2100, 1680, 420) }).ok).to.equal(true);
      const oneMore = checkDeltas({ ...exact, final: at(2101, 1680, 421) });
      expect(oneMore.ok).to.equal(false);
      expect(oneMore.problems.join()).to.match(/received grew by 2001, expected exactly 2000/);
      const lost = checkDeltas({ ...exact, final: at(2100, 1679, 421) });
      expect(lost.problems.join()).to.match(/unique_processed grew by 1599, expected exactly 1600/);
      expect(checkDeltas({ ...exact, final: at(2100, 1680, 420, 1) }).problems.join()).to.match(/1 jobs failed/);
      expect(checkDeltas({ ...exact, final: at(2100, 1680, 419) }).problems.join()).to.match(
        /unique_processed \+ duplicate_dropped by 1999/,
      );
    });

    it('allows the copies of re-sent requests as extra duplicates, and no more', () => {
      const input = { baseline: at(0, 0, 0), sent: 1000, expectedUnique: 800, resentEvents: 50 };
      const check = checkDeltas({ ...input, final: at(1050, 800, 250) });
      expect(check.ok).to.equal(true);
      expect(check.expected).to.deep.equal({
        unique_processed: 800,
        received: { min: 1000, max: 1050 },
        duplicate_dropped: { min: 200, max: 250 },
      });
      expect(checkDeltas({ ...input, final: at(1000, 800, 200) }).ok).to.equal(true);
      expect(checkDeltas({ ...input, final: at(1051, 800, 251) }).ok).to.equal(false);
    });
  });

  describe('retry policy', () => {
    it('waits at least Retry-After (capped), and backs off exponentially with jitter otherwise', () => {
      const policy = DEFAULT_RETRY_POLICY;
      expect(parseRetryAfter('2')).to.equal(2000);
      expect(parseRetryAfter(new Date(Date.now() + 3000).toUTCString())).to.be.within(1000, 3000);
      expect(parseRetryAfter(null)).to.equal(undefined);
      expect(retryDelay(policy, 0, 1000, () => 0)).to.equal(1000);
      expect(retryDelay(policy, 0, 3_600_000, () => 0)).to.equal(policy.maxRetryAfterMs);
      expect(retryDelay(policy, 3, undefined, () => 1)).to.equal(policy.baseDelayMs * 8);
      expect(retryDelay(policy, 40, undefined, () => 1)).to.equal(policy.maxDelayMs);
      expect(retryDelay(policy, 3, undefined, () => 0.5)).to.equal(policy.baseDelayMs * 4);
    });
  });

  describe('command line', () => {
    it('documents every option with --help and exits 0', async () => {
      const { code, run } = await runCli(['--help']);
      expect(code).to.equal(0);
      const help = run.stdout();
      for (const option of [
        '--url',
        '--events',
        '--dup',
        '--batch',
        '--concurrency',
        '--topics',
        '--run-id',
        '--expect-unique',
        '--request-timeout-ms',
        '--max-retry-ms',
        '--timeout-ms',
        '--progress-ms',
        '--no-verify',
        '--json',
        '--quiet',
        '--help',
        'API_TOKEN',
        'READ_TOKEN',
      ]) {
        expect(help, option).to.include(option);
      }
      expect(help).to.match(/another producer|no other producer/);
      expect(help.match(/default /g)?.length).to.be.at.least(12);
    });

    it('rejects bad options with a message naming the option and exit status 2', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['--events', 'abc'], /--events must be an integer/],
        [['--events', '0'], /--events must be an integer from 1/],
        [['--dup', '1'], /--dup must be a number with 0 <= dup < 1/],
        [['--dup=-0.1'], /--dup must be a number/],
        [['--batch', '1.5'], /--batch must be an integer/],
        [['--concurrency', '0'], /--concurrency must be an integer/],
        [['--url', 'not a url'], /--url must be an http\(s\) URL/],
        [['--events', '1', '--dup', '0.6'], /leaves no unique event/],
        [['--events', '10', '--expect-unique', '11'], /--expect-unique must be an integer from 0 to 10/],
        [['--run-id', 'a/b'], /--run-id must be/],
        [['--bogus'], /Unknown option '--bogus'/],
      ];
      const results = await Promise.all(cases.map(([args]) => runCli(args)));
      results.forEach(({ code, run }, i) => {
        const [args, message] = cases[i] ?? [[], /./];
        expect(code, args.join(' ')).to.equal(2);
        expect(run.stderr(), args.join(' ')).to.match(message);
        expect(run.stdout(), args.join(' ')).to.equal('');
      });
    });
  });

  describe('without a service', () => {
    it('stops at once, naming the host, when the host of --url does not resolve', async () => {
      // `.invalid` never resolves (RFC 2606), as `lb` does not while the compose cluster is down.
      const url = 'http://aggregator-lb.invalid:8080';
      const started = Date.now();
      const { code, run } = await runCli(['--url', url, '--events', '10', '--quiet']);
      expect(code).to.equal(1);
      expect(run.stdout()).to.include(`FAILED: cannot resolve "aggregator-lb.invalid", the host of ${url}`);
      // Not after --max-retry-ms (60 s) of retries.
      expect(Date.now() - started).to.be.below(15_000);
    });

    it('says at the first refused connection that nothing is listening and how to start the service', async () => {
      // A port nothing listens on: the host answers at once with a refusal, as localhost does
      // before `npm start`.
      const url = `http://127.0.0.1:${await freePort()}`;
      const run = startCli(['--url', url, '--events', '10', '--no-verify']);
      try {
        const started = Date.now();
        await waitUntil(() => run.stderr().includes(`nothing is listening at ${url} (connection refused)`), {
          what: 'the nothing-listening note on stderr',
          timeoutMs: 10_000,
        });
        // Said at the first retry, well before the 60 s retry budget runs out.
        expect(Date.now() - started).to.be.below(10_000);
        expect(run.stderr()).to.include('npm start').and.include('Retrying for up to 60 s');
      } finally {
        await run.child.kill();
      }
    });
  });

  describe('against the real stack', () => {
    before(requireTool(REDIS_SERVER));
    it('publishes N events with a duplicate share and finds the exact counts in /stats', () =>
      withProcessStack({}, async (stack) => {
        const args = ['--url', stack.apiUrl, '--events', '2000', '--dup', '0.2', '--batch', '50'];
        const { code, run } = await runCli([...args, '--concurrency', '4', '--topics', '3', '--json']);
        expect(code, run.stderr()).to.equal(0);
        const summary = summaryOf(run);
        expect(summary).to.include({ ok: true, requests: 40, retries: 0, resent_events: 0, expected_unique: 1600 });
        expect(summary.events).to.deep.equal({ planned: 2000, sent: 2000, unique: 1600, duplicates: 400 });
        expect(summary.verify?.deltas).to.deep.equal({
          received: 2000,
          unique_processed: 1600,
          duplicate_dropped: 400,
          failed: 0,
        });
        expect(summary.latency_ms.p50).to.be.greaterThan(0);
        expect(summary.latency_ms.p99).to.be.at.least(summary.latency_ms.p50);
        // The service agrees on its own: the stack started empty.
        const stats = await stack.stats();
        expect(stats).to.include({ received: 2000, unique_processed: 1600, duplicate_dropped: 400 });
        expect(stats.topics).to.deep.equal(['topic-0', 'topic-1', 'topic-2']);
        expect(run.stderr()).to.match(/^sent 2,000\/2,000 events/m);
      }));

    it('counts a resent run as duplicates only, and fails the check when not told to expect that', () =>
      withProcessStack({}, async (stack) => {
        const args = ['--url', stack.apiUrl, '--events', '500', '--dup', '0.2', '--run-id', 'same-run', '--json'];
        const first = await runCli(args);
        expect(first.code, first.run.stderr()).to.equal(0);
        expect(summaryOf(first.run).verify?.deltas).to.include({ unique_processed: 400, duplicate_dropped: 100 });

        const resent = await runCli([...args, '--expect-unique', '0']);
        expect(resent.code, resent.run.stderr()).to.equal(0);
        expect(summaryOf(resent.run).verify?.deltas).to.deep.equal({
          received: 500,
          unique_processed: 0,
          duplicate_dropped: 500,
          failed: 0,
        });

        const unexpected = await runCli(args);
        expect(unexpected.code).to.equal(3);
        const summary = summaryOf(unexpected.run);
        expect(summary.ok).to.equal(false);
        expect(summary.error).to.match(/unique_processed grew by 0, expected exactly 400/);
        expect(unexpected.run.stderr()).to.match(/another producer may be publishing.*--expect-unique 0/);
        expect(await stack.stats()).to.include({ received: 1500, unique_processed: 400, duplicate_dropped: 1100 });
      }));

    it('fails fast with the error body on a permanent 4xx', () =>
      withProcessStack({}, async (stack) => {
        const { code, run } = await runCli(['--url', stack.apiUrl, '--events', '10001', '--batch', '10001', '--json']);
        expect(code).to.equal(1);
        expect(summaryOf(run)).to.include({ ok: false, retries: 0, attempts: 1 });
        expect(run.stderr()).to.match(/413: \{"error":\{"code":"batch_too_large"/);
      }));

    it('prints nothing but the JSON summary on stdout through `npm run -s publish -- --json`, for jq', () =>
      withProcessStack({}, async (stack) => {
        const args = ['--url', stack.apiUrl, '--events', '200', '--dup', '0.2', '--json'];
        const silent = startCli(args, {}, ['run', '-s', 'publish', '--']);
        expect(await silent.finished(), silent.stderr()).to.equal(0);
        // The whole of stdout, as jq reads it: no banner of npm's, no build output.
        const summary = JSON.parse(silent.stdout()) as PublishSummary;
        expect(summary).to.include({ ok: true, expected_unique: 160 });
        expect(silent.stderr()).to.not.include('note: npm printed');
        // Without -s, npm prints its banner on stdout first (nothing can take it back), and the
        // CLI says how to get JSON only.
        const plain = startCli(args, {}, ['run', 'publish', '--']);
        expect(await plain.finished(), plain.stderr()).to.equal(0);
        expect(plain.stdout()).to.match(/^\s*> (\S+ )?publish\n/);
        expect(plain.stderr()).to.include('run `npm run -s publish -- --json …`');
      }));

    it('sends API_TOKEN with publishes and READ_TOKEN with /stats, and stops on a 401 without them', () => {
      const tokens = { API_TOKEN: 'publish-token-0123456789', READ_TOKEN: 'read-token-0123456789' };
      return withProcessStack({ env: tokens }, async (stack) => {
        const args = ['--url', stack.apiUrl, '--events', '100', '--json'];
        const refused = await runCli(args, { API_TOKEN: '', READ_TOKEN: '' });
        expect(refused.code).to.equal(1);
        expect(summaryOf(refused.run).error).to.match(/\/stats.*401/);
        const noPublishToken = await runCli(args, { API_TOKEN: '', READ_TOKEN: tokens.READ_TOKEN });
        expect(noPublishToken.code).to.equal(1);
        expect(summaryOf(noPublishToken.run)).to.include({ attempts: 1, retries: 0 });
        expect(noPublishToken.run.stderr()).to.match(/POST \/publish \(batch 0\) failed with 401/);
        const allowed = await runCli(args, tokens);
        expect(allowed.code, allowed.run.stderr()).to.equal(0);
        expect(summaryOf(allowed.run).verify?.deltas).to.include({ received: 100, unique_processed: 100 });
      });
    });

    it('retries through a Redis outage and still ends with exact unique counts', () =>
      withProcessStack({ persistentRedis: true }, async (stack) => {
        const events = 3_000;
        const cli = startCli([
          ...['--url', stack.apiUrl, '--events', String(events), '--dup', '0.2', '--batch', '5'],
          ...['--concurrency', '2', '--progress-ms', '50', '--json'],
        ]);
        try {
          // Stop Redis once the first requests went through (SIGTERM: Redis flushes its AOF, so
          // every acknowledged job survives), and bring it back once the CLI has met the outage.
          await cli.child.waitFor(/^sent [1-9]/, 20_000);
          await whileFrozen(cli, () => stack.redis.stop());
          await cli.child.waitFor(/^retrying batch \d+: (503|5\d\d|ECONN|UND_ERR|timeout)/, 20_000);
          await stack.restartRedis();
          const code = await cli.finished();
          expect(code, cli.stderr()).to.equal(0);
          const summary = summaryOf(cli);
          expect(summary.ok).to.equal(true);
          expect(summary.retries).to.be.greaterThan(0);
          expect(summary.events.sent).to.equal(events);
          const deltas = summary.verify?.deltas;
          expect(deltas?.unique_processed).to.equal(2400);
          expect(deltas?.received).to.equal((deltas?.unique_processed ?? 0) + (deltas?.duplicate_dropped ?? 0));
          expect(deltas?.received).to.be.within(events, events + summary.resent_events);
          expect(deltas?.failed).to.equal(0);
        } finally {
          await cli.child.kill();
        }
      }));

    it('re-sends requests that got no reply while the API is down, and still counts exactly', () =>
      withProcessStack({}, async (stack) => {
        const events = 3_000;
        const cli = startCli([
          ...['--url', stack.apiUrl, '--events', String(events), '--dup', '0.3', '--batch', '5'],
          ...['--concurrency', '2', '--progress-ms', '50', '--json'],
        ]);
        try {
          await cli.child.waitFor(/^sent [1-9]/, 20_000);
          await whileFrozen(cli, async () => stack.apis[0]?.stop());
          await cli.child.waitFor(/^retrying batch \d+: (ECONNREFUSED|ECONNRESET|UND_ERR|EPIPE)/, 20_000);
          await stack.startApi();
          const code = await cli.finished();
          expect(code, cli.stderr()).to.equal(0);
          const summary = summaryOf(cli);
          expect(summary.retries_by_reason.network).to.be.greaterThan(0);
          expect(summary.verify?.deltas?.unique_processed).to.equal(2100);
          expect(summary.verify?.deltas?.received).to.be.within(events, events + summary.resent_events);
        } finally {
          await cli.child.kill();
        }
      }));
  });
});
