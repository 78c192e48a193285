import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiError,
  attemptRequest,
  type Connection,
  type RetryNotice,
  type RetryPolicy,
  withRetries,
} from '@aggregator/client';

function connectionTo(url: string, timeoutMs: number, token: string | undefined): Connection {
  return { url, token, fetch: (input, init) => fetch(input, init), requestTimeoutMs: timeoutMs };
}

/** The part of `GET /stats` the check uses. */
export interface StatsSnapshot {
  received: number;
  unique_processed: number;
  duplicate_dropped: number;
  queue: { waiting: number; active: number; delayed: number; failed: number };
  workers?: number;
}

/** `GET /stats`, retried like a publish request (it answers 503 while Redis is down). */
export async function readStats(
  url: string,
  options: {
    timeoutMs: number;
    /** Bearer token for `/stats` (the service's `READ_TOKEN`). */
    token?: string;
    policy: RetryPolicy;
    signal?: AbortSignal;
    onRetry?: (notice: RetryNotice) => void;
  },
): Promise<StatsSnapshot> {
  const connection = connectionTo(url, options.timeoutMs, options.token);
  const outcome = await withRetries(
    'GET /stats',
    () => attemptRequest(connection, { method: 'GET', path: '/stats', signal: options.signal }),
    options,
  ).catch((thrown: unknown) => {
    throw thrown instanceof ApiError ? new Error(`GET /stats failed with ${thrown.status}: ${thrown.body}`) : thrown;
  });
  return JSON.parse(outcome.body) as StatsSnapshot;
}

/** Jobs not yet finished: waiting, active or delayed (a failed job is finished). */
export function queueBusy(s: StatsSnapshot): number {
  return s.queue.waiting + s.queue.active + s.queue.delayed;
}

function sameCounters(a: StatsSnapshot, b: StatsSnapshot): boolean {
  return (
    a.received === b.received &&
    a.unique_processed === b.unique_processed &&
    a.duplicate_dropped === b.duplicate_dropped &&
    a.queue.failed === b.queue.failed
  );
}

export interface SettleResult {
  settled: boolean;
  /** The last stats read (the final ones when settled). */
  last: StatsSnapshot | undefined;
  waitedMs: number;
  /** The last failure to read `/stats`, if the last poll failed. */
  lastError?: string;
}

/**
 * Polls `/stats` until the service is at rest: no job waiting, active or delayed, and the same
 * counters on two polls in a row. Every acknowledged request is in the queue before its reply, and
 * a worker publishes the counters before it removes the job, so an idle queue means the counters
 * are final; the second poll guards against a read that saw the counters just before a job's
 * update and the queue just after it. Read errors (Redis down) are retried until the deadline.
 */
export async function waitUntilSettled(
  url: string,
  options: {
    timeoutMs: number;
    pollMs: number;
    requestTimeoutMs: number;
    token?: string;
    signal?: AbortSignal;
    /** Called after every successful read. */
    onPoll?: (stats: StatsSnapshot) => void;
  },
): Promise<SettleResult> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let previous: StatsSnapshot | undefined;
  let last: StatsSnapshot | undefined;
  let lastError: string | undefined;
  for (;;) {
    const timeoutMs = Math.min(options.requestTimeoutMs, Math.max(1, deadline - performance.now()));
    const outcome = await attemptRequest(connectionTo(url, timeoutMs, options.token), {
      method: 'GET',
      path: '/stats',
      signal: options.signal,
    });
    if (outcome.kind === 'ok') {
      last = JSON.parse(outcome.body) as StatsSnapshot;
      lastError = undefined;
      options.onPoll?.(last);
      if (previous && queueBusy(last) === 0 && queueBusy(previous) === 0 && sameCounters(previous, last)) {
        return { settled: true, last, waitedMs: performance.now() - started };
      }
      previous = last;
    } else {
      lastError = outcome.kind === 'retry' ? outcome.detail : `${outcome.status} ${outcome.body}`;
      previous = undefined;
    }
    if (performance.now() + options.pollMs > deadline) {
      return { settled: false, last, waitedMs: performance.now() - started, lastError };
    }
    await sleep(options.pollMs, undefined, { signal: options.signal });
  }
}

export interface Deltas {
  received: number;
  unique_processed: number;
  duplicate_dropped: number;
  failed: number;
}

export interface DeltaCheck {
  ok: boolean;
  deltas: Deltas;
  expected: {
    unique_processed: number;
    /** `received` must grow by at least `min` and at most `max` (equal unless requests were re-sent). */
    received: { min: number; max: number };
    duplicate_dropped: { min: number; max: number };
  };
  problems: string[];
}

export function statsDeltas(baseline: StatsSnapshot, final: StatsSnapshot): Deltas {
  return {
    received: final.received - baseline.received,
    unique_processed: final.unique_processed - baseline.unique_processed,
    duplicate_dropped: final.duplicate_dropped - baseline.duplicate_dropped,
    failed: final.queue.failed - baseline.queue.failed,
  };
}

/**
 * The exact check of a run that sent `sent` events of which `expectedUnique` were new to the
 * service, `resentEvents` of them again after attempts whose fate was unknown:
 *
 * - `unique_processed` grew by exactly `expectedUnique`;
 * - `received` grew by exactly `unique_processed`'s + `duplicate_dropped`'s growth;
 * - `received` grew by at least `sent` and at most `sent + resentEvents`. A re-sent request whose
 *   first attempt never reached the queue adds nothing; one whose first attempt was enqueued but
 *   whose reply was lost adds its events again, as duplicates. With no re-sent request the bounds
 *   meet, and `duplicate_dropped` grew by exactly `sent - expectedUnique`;
 * - no job failed.
 *
 * It assumes this run is the only producer while it runs.
 */
export function checkDeltas(input: {
  baseline: StatsSnapshot;
  final: StatsSnapshot;
  sent: number;
  expectedUnique: number;
  resentEvents: number;
}): DeltaCheck {
  const deltas = statsDeltas(input.baseline, input.final);
  const received = { min: input.sent, max: input.sent + input.resentEvents };
  const problems: string[] = [];
  if (deltas.unique_processed !== input.expectedUnique) {
    problems.push(`unique_processed grew by ${deltas.unique_processed}, expected exactly ${input.expectedUnique}`);
  }
  if (deltas.received !== deltas.unique_processed + deltas.duplicate_dropped) {
    problems.push(
      `received grew by ${deltas.received} but unique_processed + duplicate_dropped by ${deltas.unique_processed + deltas.duplicate_dropped}`,
    );
  }
  if (deltas.received < received.min || deltas.received > received.max) {
    problems.push(
      received.min === received.max
        ? `received grew by ${deltas.received}, expected exactly ${received.min}`
        : `received grew by ${deltas.received}, expected ${received.min} to ${received.max} ` +
            `(${input.resentEvents} events were re-sent after attempts with no reply)`,
    );
  }
  if (deltas.failed > 0) problems.push(`${deltas.failed} jobs failed (queue.failed)`);
  return {
    ok: problems.length === 0,
    deltas,
    expected: {
      unique_processed: input.expectedUnique,
      received,
      duplicate_dropped: { min: received.min - input.expectedUnique, max: received.max - input.expectedUnique },
    },
    problems,
  };
}
