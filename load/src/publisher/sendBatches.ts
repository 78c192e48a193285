import { ApiError, type Connection, publishEvents, type RetryNotice, type RetryPolicy } from '@aggregator/client';
import type { EventSource } from './generateEvents.js';

export interface SendOptions {
  /** The service's base URL, without a trailing slash. */
  url: string;
  source: EventSource;
  /** Requests in flight at once. */
  concurrency: number;
  requestTimeoutMs: number;
  /** Bearer token for `POST /publish` (the service's `API_TOKEN`). */
  token?: string;
  policy: RetryPolicy;
  /** Stops the run (Ctrl-C). */
  signal?: AbortSignal;
  onProgress?: (progress: SendReport) => void;
  onRetry?: (notice: RetryNotice & { batch: number; totalRetries: number }) => void;
}

/** What a run sent; also attached to a `SendError` when the run stopped early. */
export interface SendReport {
  /** Events in acknowledged requests (the run's `N` once every request succeeded). */
  events: number;
  /** Requests the service acknowledged. */
  requests: number;
  /** HTTP attempts, acknowledged or not. */
  attempts: number;
  retries: number;
  retriesByReason: Record<string, number>;
  /**
   * Events re-sent after an attempt whose fate is unknown (no reply, or a 5xx): each such
   * attempt may have been enqueued, so the service may take in up to this many extra events.
   */
  resentEvents: number;
  /** Latency of each acknowledged publish request (its successful attempt), in ms. */
  latenciesMs: number[];
  elapsedMs: number;
}

/** The run stopped before every batch was acknowledged. */
/** A report of nothing sent yet. */
export function emptyReport(): SendReport {
  return {
    events: 0,
    requests: 0,
    attempts: 0,
    retries: 0,
    retriesByReason: {},
    resentEvents: 0,
    latenciesMs: [],
    elapsedMs: 0,
  };
}

export class SendError extends Error {
  constructor(
    readonly report: SendReport,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'SendError';
  }
}

/**
 * Publishes every batch of `source` with `concurrency` requests in flight, each one request through
 * the client's `publishEvents`, retried as an at-least-once producer must (a request that got no
 * reply is sent again; the service drops the duplicates). The first request that fails for good
 * stops the run. The CLI keeps its own batches (not a `Publisher`'s) because its check needs to know
 * which events each request carried.
 */
export async function sendBatches(options: SendOptions): Promise<SendReport> {
  const started = performance.now();
  const report = emptyReport();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;
  const connection: Connection = {
    url: options.url,
    token: options.token,
    fetch: (input, init) => fetch(input, init),
    requestTimeoutMs: options.requestTimeoutMs,
  };

  const sendLoop = async () => {
    for (;;) {
      if (failure || signal.aborted) return;
      const batch = options.source.next();
      if (!batch) return;
      const what = `POST /publish (batch ${batch.index})`;
      try {
        const result = await publishEvents(connection, batch.events, {
          policy: options.policy,
          signal,
          onAttempt: () => {
            report.attempts++;
          },
          onRetry: (notice) => {
            report.retries++;
            const { reason, uncertain } = notice.outcome;
            report.retriesByReason[reason] = (report.retriesByReason[reason] ?? 0) + 1;
            if (uncertain) report.resentEvents += batch.events.length;
            options.onRetry?.({ ...notice, batch: batch.index, totalRetries: report.retries });
          },
        }).catch((thrown: unknown) => {
          throw thrown instanceof ApiError ? new Error(`${what} failed with ${thrown.status}: ${thrown.body}`) : thrown;
        });
        options.source.acknowledge(batch);
        report.events += batch.events.length;
        report.requests++;
        report.latenciesMs.push(result.latencyMs);
        options.onProgress?.(report);
      } catch (thrown: unknown) {
        failure ??= { error: thrown };
        stop.abort(thrown);
        return;
      }
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, sendLoop));
  report.elapsedMs = performance.now() - started;
  if (failure) throw new SendError(report, failure.error);
  return report;
}
