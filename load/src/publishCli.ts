import { DEFAULT_RETRY_POLICY, type RetryNotice } from '@aggregator/client';
import { UsageError } from '@aggregator/common';
import { EventSource, planEvents } from './publisher/generateEvents.js';
import { isRefused, nothingListening } from './publisher/nothingListening.js';
import { Progress, progressMode } from './publisher/progress.js';
import { EXIT, PUBLISH_HELP, type PublishOptions, parsePublishArgs } from './publisher/publishOptions.js';
import { unresolvedHost } from './publisher/resolveHost.js';
import { SendError, type SendReport, sendBatches } from './publisher/sendBatches.js';
import { buildSummary, formatSummary, type PublishSummary } from './publisher/summary.js';
import {
  checkDeltas,
  type DeltaCheck,
  queueBusy,
  readStats,
  type SettleResult,
  type StatsSnapshot,
  waitUntilSettled,
} from './publisher/verifyStats.js';

const SETTLE_POLL_MS = 200;
/** Retry notes are printed at most this often, so an outage does not flood the terminal. */
const RETRY_NOTE_MS = 1_000;

const SOLE_PRODUCER_HINT =
  'another producer may be publishing to this service (the check assumes this run is the only one), ' +
  'or this run id was published before (pass --expect-unique 0 when resending a run)';

function message(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

/** Bearer tokens, from the variables the service reads (a token on the command line would show in `ps`). */
interface Tokens {
  publish?: string;
  read?: string;
}

async function run(
  options: PublishOptions,
  tokens: Tokens,
  interrupt: AbortSignal,
): Promise<{ summary: PublishSummary; code: number }> {
  const plan = planEvents(options);
  const expectedUnique = options.expectUnique ?? plan.unique;
  const progress = new Progress({
    stream: process.stderr,
    mode: progressMode(process.stderr, options.quiet),
    total: plan.total,
    intervalMs: options.progressMs,
  });
  const policy = { ...DEFAULT_RETRY_POLICY, maxRetryMs: options.maxRetryMs };
  let lastRetryNote = Number.NEGATIVE_INFINITY;
  let refusalExplained = false;
  const noteRetry = (what: string, notice: RetryNotice, total: number) => {
    if (!refusalExplained && isRefused(notice)) {
      refusalExplained = true;
      progress.note(nothingListening(options.url, options.maxRetryMs));
    }
    const now = performance.now();
    if (now - lastRetryNote < RETRY_NOTE_MS) return;
    lastRetryNote = now;
    progress.note(
      `retrying ${what}: ${notice.outcome.detail} (retry ${notice.retry} in ${notice.delayMs} ms; ${total} retries so far)`,
    );
  };
  const fail = (
    code: number,
    error: string,
    parts: { report?: SendReport; settle?: SettleResult; check?: DeltaCheck },
  ) => ({
    summary: buildSummary({ url: options.url, plan, expectedUnique, error, ...parts }),
    code,
  });

  /** Waits for the service to be at rest; undefined when interrupted. */
  const settle = (onPoll?: (stats: StatsSnapshot) => void) =>
    waitUntilSettled(options.url, {
      timeoutMs: options.timeoutMs,
      pollMs: SETTLE_POLL_MS,
      requestTimeoutMs: options.requestTimeoutMs,
      token: tokens.read,
      signal: interrupt,
      onPoll,
    }).catch((thrown: unknown) => {
      if (interrupt.aborted) return undefined;
      throw thrown;
    });

  const unresolved = await unresolvedHost(options.url);
  if (unresolved) return fail(EXIT.publishFailed, unresolved, {});

  let baseline: StatsSnapshot | undefined;
  if (options.verify) {
    let statsRetries = 0;
    try {
      baseline = await readStats(options.url, {
        timeoutMs: options.requestTimeoutMs,
        token: tokens.read,
        policy,
        signal: interrupt,
        onRetry: (notice) => noteRetry('GET /stats', notice, ++statsRetries),
      });
    } catch (thrown: unknown) {
      if (interrupt.aborted) return fail(EXIT.interrupted, 'interrupted before sending', {});
      return fail(EXIT.publishFailed, `cannot read the baseline from ${options.url}/stats: ${message(thrown)}`, {});
    }
    if (baseline.workers === 0) {
      progress.note('warning: /stats reports no live worker; the events will wait in the queue');
    }
    if (queueBusy(baseline) > 0) {
      // Work left by an earlier run would show up in this run's deltas.
      progress.note('the queue holds earlier work; waiting for it to drain before taking the baseline…');
      const idle = await settle();
      if (!idle) return fail(EXIT.interrupted, 'interrupted before sending', {});
      if (!idle.settled || !idle.last) {
        return fail(
          EXIT.checkFailed,
          `the queue did not drain within ${options.timeoutMs} ms before the run, so no exact baseline could be taken; ` +
            'another producer may be publishing (--no-verify sends without the check)',
          {},
        );
      }
      baseline = idle.last;
    }
  }

  progress.note(
    `publishing ${plan.total} events (${plan.unique} unique, ${plan.duplicates} duplicates) ` +
      `in ${plan.batches} requests of up to ${plan.batch}, ${options.concurrency} at once, run id ${plan.runId}`,
  );
  let report: SendReport;
  try {
    report = await sendBatches({
      url: options.url,
      source: new EventSource(plan),
      concurrency: options.concurrency,
      requestTimeoutMs: options.requestTimeoutMs,
      token: tokens.publish,
      policy,
      signal: interrupt,
      onProgress: (r) => progress.update(r.events, r.retries),
      onRetry: (notice) => noteRetry(`batch ${notice.batch}`, notice, notice.totalRetries),
    });
  } catch (thrown: unknown) {
    progress.finish();
    if (!(thrown instanceof SendError)) throw thrown;
    if (interrupt.aborted) return fail(EXIT.interrupted, 'interrupted while sending', { report: thrown.report });
    return fail(EXIT.publishFailed, message(thrown.cause), { report: thrown.report });
  }
  progress.finish();
  if (!baseline) return { summary: buildSummary({ url: options.url, plan, expectedUnique, report }), code: EXIT.ok };

  progress.note(`waiting up to ${options.timeoutMs} ms for the service to process every event…`);
  let lastWaitNote = performance.now();
  const waited = await settle((s) => {
    if (performance.now() - lastWaitNote < options.progressMs) return;
    lastWaitNote = performance.now();
    const received = s.received - (baseline?.received ?? 0);
    progress.note(`waiting: received +${received} of ${report.events}, ${queueBusy(s)} jobs queued`);
  });
  if (!waited) return fail(EXIT.interrupted, 'interrupted while waiting for the service', { report });
  const check = waited.last
    ? checkDeltas({
        baseline,
        final: waited.last,
        sent: report.events,
        expectedUnique,
        resentEvents: report.resentEvents,
      })
    : undefined;
  if (!waited.settled) {
    const why = waited.lastError ? `; last /stats error: ${waited.lastError}` : '';
    return fail(
      EXIT.checkFailed,
      `the service did not settle within ${options.timeoutMs} ms (--timeout-ms)${why}; ` +
        'no worker may be running, or another producer may be publishing to this service',
      { report, settle: waited, check },
    );
  }
  if (!check?.ok) {
    return fail(EXIT.checkFailed, `${check?.problems.join('; ')}; ${SOLE_PRODUCER_HINT}`, {
      report,
      settle: waited,
      check,
    });
  }
  return {
    summary: buildSummary({ url: options.url, plan, expectedUnique, report, settle: waited, check }),
    code: EXIT.ok,
  };
}

/**
 * `npm run publish` prints npm's own banner ("> publish", then the script) on stdout before this program
 * starts, so stdout is not JSON only; `npm run -s` leaves them out (and then sets
 * npm_config_loglevel=silent), as does npm's own JSON mode (banners go to stderr).
 */
function npmBannerNote(): string | undefined {
  const env = process.env;
  const npmPrintedBanner =
    env.npm_lifecycle_event === 'publish' && env.npm_config_loglevel !== 'silent' && env.npm_config_json !== 'true';
  if (!npmPrintedBanner || process.stdout.isTTY) return undefined;
  return (
    'note: npm printed its script banner ("> publish" …) on stdout before this JSON; ' +
    'for JSON only (e.g. to pipe into jq) run `npm run -s publish -- --json …`\n'
  );
}

async function main(): Promise<number> {
  let options: PublishOptions | undefined;
  try {
    options = parsePublishArgs(process.argv.slice(2));
  } catch (thrown: unknown) {
    if (!(thrown instanceof UsageError)) throw thrown;
    await write(process.stderr, `${thrown.message}\nRun with --help to see the options.\n`);
    return EXIT.usage;
  }
  if (!options) {
    await write(process.stdout, `${PUBLISH_HELP}\n`);
    return EXIT.ok;
  }

  // First signal: stop sending and report what was done; second: leave at once.
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('\nstopping (press Ctrl-C again to quit at once)…\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const note = options.json ? npmBannerNote() : undefined;
  if (note) await write(process.stderr, note);

  const tokens = { publish: process.env.API_TOKEN || undefined, read: process.env.READ_TOKEN || undefined };
  const { summary, code } = await run(options, tokens, interrupt.signal);
  if (options.json) {
    await write(process.stdout, `${JSON.stringify(summary)}\n`);
    if (summary.error) await write(process.stderr, `FAILED: ${summary.error}\n`);
  } else {
    await write(process.stdout, `${formatSummary(summary)}\n`);
  }
  return code;
}

// Exit explicitly: idle keep-alive sockets must not hold the process open.
main().then(
  (code) => process.exit(code),
  (thrown: unknown) => {
    process.stderr.write(`${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}\n`);
    process.exit(EXIT.publishFailed);
  },
);
