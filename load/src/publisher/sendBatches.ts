import type { EventSource } from './generateEvents.js';
import { attemptRequest } from './httpAttempt.js';
import { type RetryNotice, type RetryPolicy, withRetries } from './withRetries.js';

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
 * Publishes every batch of `source` with `concurrency` requests in flight, retrying each request
 * as an at-least-once producer must (a request that got no reply is sent again; the service drops
 * the duplicates). The first request that fails for good stops the run.
 */
export async function sendBatches(options: SendOptions): Promise<SendReport> {
  const started = performance.now();
  const report = emptyReport();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;

  const sendLoop = async () => {
    for (;;) {
      if (failure || signal.aborted) return;
      const batch = options.source.next();
      if (!batch) return;
      const body = JSON.stringify(batch.events);
      try {
        const { outcome } = await withRetries(
          `POST /publish (batch ${batch.index})`,
          () => {
            report.attempts++;
            return attemptRequest(`${options.url}/publish`, {
              method: 'POST',
              body,
              timeoutMs: options.requestTimeoutMs,
              token: options.token,
              signal,
            });
          },
          {
            policy: options.policy,
            signal,
            onRetry: (notice) => {
              report.retries++;
              const { reason, uncertain } = notice.outcome;
              report.retriesByReason[reason] = (report.retriesByReason[reason] ?? 0) + 1;
              if (uncertain) report.resentEvents += batch.events.length;
              options.onRetry?.({ ...notice, batch: batch.index, totalRetries: report.retries });
            },
          },
        );
        const accepted = (JSON.parse(outcome.body) as { accepted?: unknown }).accepted;
        if (accepted !== batch.events.length) {
          throw new Error(
            `POST /publish (batch ${batch.index}) accepted ${String(accepted)} of ${batch.events.length}`,
          );
        }
        options.source.acknowledge(batch);
        report.events += batch.events.length;
        report.requests++;
        report.latenciesMs.push(outcome.latencyMs);
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
