import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { integerOption, UsageError } from '@aggregator/common';

/** Every option of `npm run publish`, parsed and checked. */
export interface PublishOptions {
  /** Base URL of the service, without a trailing slash. */
  url: string;
  /** Events sent in total, duplicates included. */
  events: number;
  /** Share of `events` that re-send an event of this run, in [0, 1). */
  dup: number;
  /** Events per request. */
  batch: number;
  /** Requests in flight at once. */
  concurrency: number;
  topics: number;
  /** Part of every event id, so that separate runs never collide. */
  runId: string;
  /** Unique events the service should store; by default the run's unique count. */
  expectUnique: number | undefined;
  requestTimeoutMs: number;
  maxRetryMs: number;
  /** Longest wait for the service to process everything. */
  timeoutMs: number;
  progressMs: number;
  verify: boolean;
  json: boolean;
  quiet: boolean;
}

export const DEFAULTS = {
  url: 'http://localhost:8080',
  events: 10_000,
  dup: 0,
  batch: 100,
  concurrency: 8,
  topics: 4,
  requestTimeoutMs: 10_000,
  maxRetryMs: 60_000,
  timeoutMs: 120_000,
  progressMs: 1_000,
} as const;

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, publishFailed: 1, usage: 2, checkFailed: 3, interrupted: 130 } as const;

export const PUBLISH_HELP = `npm run publish -- [options]

Publishes a run of generated events to a running aggregator, with an exact share of duplicates,
then waits until the service has processed them and checks its /stats counters exactly.

Each event is {topic: "topic-<i mod T>", event_id: "<run id>-<i>", …}. Of the --events N events,
round(N × dup) are duplicates: each re-sends an event of this run (one already acknowledged when
there is one), so the service must store exactly N - round(N × dup) new events.

Requests answered 429 or 503 are retried after Retry-After (at most 30 s), and requests that got no
reply (connection refused or reset, timeout) are sent again, with exponential backoff and jitter, for
at most --max-retry-ms per request. Any other 4xx stops the run with the error printed.

Options:
  --url URL                the service                                        default ${DEFAULTS.url}
  --events N               events in total, duplicates included               default ${DEFAULTS.events}
  --dup R                  share of duplicates, 0 <= R < 1                    default ${DEFAULTS.dup}
  --batch B                events per request (at most the API's MAX_BATCH)   default ${DEFAULTS.batch}
  --concurrency C          requests in flight at once                         default ${DEFAULTS.concurrency}
  --topics T               topics the events are spread over                  default ${DEFAULTS.topics}
  --run-id ID              part of every event id (letters, digits, . _ : -);
                           reuse it to send the same events again             default random
  --expect-unique N        new events the service should store; pass 0
                           when resending a run that was fully published      default N - round(N × dup)
  --request-timeout-ms MS  a request with no reply by then is retried         default ${DEFAULTS.requestTimeoutMs}
  --max-retry-ms MS        give up on a request after retrying this long      default ${DEFAULTS.maxRetryMs}
  --timeout-ms MS          longest wait for the service to settle             default ${DEFAULTS.timeoutMs}
  --progress-ms MS         interval of the progress lines when stderr is
                           not a terminal (a terminal gets a bar)             default ${DEFAULTS.progressMs}
  --no-verify              do not wait for the service nor check /stats
  --json                   print the summary as one JSON line on stdout; to pipe
                           it, e.g. into jq: npm run -s publish -- --json …
                           (without -s, npm prints its own lines on stdout first)
  --quiet                  no progress and no retry notes on stderr
  -h, --help               this text

The check reads /stats before sending (the baseline) and after the queue is empty, then requires:
  unique_processed grew by exactly the expected unique count;
  received grew by exactly unique_processed + duplicate_dropped;
  received grew by at least N and at most N + the events of requests re-sent after an attempt with
  no reply or a 5xx (such an attempt may have been enqueued; its copy then counts as duplicates).
  With no such re-send, received grew by exactly N and duplicate_dropped by exactly N - unique.
It assumes no other producer publishes to the same service during the run.

Environment: API_TOKEN and READ_TOKEN, when set, are sent as bearer tokens with POST /publish
and GET /stats (the same variables the service reads).

Exit status: 0 the counters match exactly; 1 publishing failed (a 4xx, or retries exhausted);
2 bad options; 3 the counters do not match or the service did not settle in time; 130 interrupted.`;

function baseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULTS.url}, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULTS.url}, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** A run id from the clock and a few random bytes: unique enough, and readable in the store. */
export function newRunId(now = Date.now()): string {
  return `r${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Parses the command line; `undefined` means `--help` was asked for. Throws `UsageError`. */
export function parsePublishArgs(args: string[]): PublishOptions | undefined {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (thrown: unknown) {
    throw new UsageError(thrown instanceof Error ? thrown.message : String(thrown));
  }
  if (values.help) return undefined;

  const events = integerOption('events', values.events, 1, 100_000_000, DEFAULTS.events);
  const dupRaw = values.dup ?? String(DEFAULTS.dup);
  const dup = Number(dupRaw);
  if (dupRaw.trim() === '' || !Number.isFinite(dup) || dup < 0 || dup >= 1) {
    throw new UsageError(`--dup must be a number with 0 <= dup < 1, got "${dupRaw}"`);
  }
  const unique = events - Math.round(events * dup);
  if (unique < 1) {
    throw new UsageError(`--dup ${dupRaw} with --events ${events} leaves no unique event to duplicate`);
  }
  const runId = values['run-id'] ?? newRunId();
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(runId)) {
    throw new UsageError(`--run-id must be 1 to 100 letters, digits, ".", "_", ":" or "-", got "${runId}"`);
  }
  return {
    url: baseUrl(values.url ?? DEFAULTS.url),
    events,
    dup,
    batch: integerOption('batch', values.batch, 1, 100_000, DEFAULTS.batch),
    concurrency: integerOption('concurrency', values.concurrency, 1, 1024, DEFAULTS.concurrency),
    topics: integerOption('topics', values.topics, 1, 100_000, DEFAULTS.topics),
    runId,
    expectUnique:
      values['expect-unique'] === undefined
        ? undefined
        : integerOption('expect-unique', values['expect-unique'], 0, unique),
    requestTimeoutMs: integerOption(
      'request-timeout-ms',
      values['request-timeout-ms'],
      1,
      3_600_000,
      DEFAULTS.requestTimeoutMs,
    ),
    maxRetryMs: integerOption('max-retry-ms', values['max-retry-ms'], 0, 86_400_000, DEFAULTS.maxRetryMs),
    timeoutMs: integerOption('timeout-ms', values['timeout-ms'], 1, 86_400_000, DEFAULTS.timeoutMs),
    progressMs: integerOption('progress-ms', values['progress-ms'], 10, 3_600_000, DEFAULTS.progressMs),
    verify: values.verify ?? true,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
    options: {
      url: { type: 'string' },
      events: { type: 'string' },
      dup: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      topics: { type: 'string' },
      'run-id': { type: 'string' },
      'expect-unique': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'max-retry-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'progress-ms': { type: 'string' },
      verify: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
