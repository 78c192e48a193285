import { type AttemptOutcome, attemptRequest, type Connection, type RetryNotice, withRetries } from './httpAttempt.js';
import type { RetryPolicy } from './retryPolicy.js';
import type { PublishEvent, PublishReply } from './types.js';

export interface PublishBatchOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Before each retry; `notice.outcome.uncertain` says whether the failed attempt may have been enqueued. */
  onRetry?: (notice: RetryNotice) => void;
  /** After each attempt, whatever its outcome. */
  onAttempt?: (outcome: AttemptOutcome) => void;
}

/** What one acknowledged `POST /publish` took. */
export interface PublishResult extends PublishReply {
  /** HTTP attempts, the acknowledged one included. */
  attempts: number;
  /** Latency of the acknowledged attempt, in ms. */
  latencyMs: number;
}

/** A JSON array of events, from events already serialised one by one. */
export function batchBody(serialised: readonly string[]): string {
  return `[${serialised.join(',')}]`;
}

/**
 * Sends one `POST /publish` request with `body` (a JSON array of `count` events) and retries it as
 * an at-least-once producer must: a `408`, `429`, `5xx`, timeout or network error is retried with
 * backoff (an attempt that got no reply may have been enqueued; its copies are dropped as
 * duplicates, never stored twice), any other `4xx` rejects with `ApiError` at once.
 */
export async function publishBody(
  connection: Connection,
  body: string,
  count: number,
  options: PublishBatchOptions,
): Promise<PublishResult> {
  let attempts = 0;
  const ok = await withRetries(
    `POST /publish of ${count} events`,
    async () => {
      attempts++;
      const outcome = await attemptRequest(connection, {
        method: 'POST',
        path: '/publish',
        body,
        signal: options.signal,
      });
      options.onAttempt?.(outcome);
      return outcome;
    },
    options,
  );
  const accepted = (JSON.parse(ok.body) as Partial<PublishReply>).accepted;
  if (accepted !== count) throw new Error(`POST /publish accepted ${String(accepted)} of ${count} events`);
  return { accepted, attempts, latencyMs: ok.latencyMs };
}

/** `publishBody` for events not yet serialised. */
export function publishEvents(
  connection: Connection,
  events: readonly PublishEvent[],
  options: PublishBatchOptions,
): Promise<PublishResult> {
  return publishBody(connection, JSON.stringify(events), events.length, options);
}
