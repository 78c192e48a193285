import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptOutcome } from './httpAttempt.js';

/** How a request is retried: exponential backoff with full jitter, never sooner than `Retry-After`. */
export interface RetryPolicy {
  /** Longest time from a request's first attempt to its last; 0 disables retries. */
  maxRetryMs: number;
  /** Backoff of the first retry (before jitter); doubles with each retry. */
  baseDelayMs: number;
  /** Largest backoff (before jitter). */
  maxDelayMs: number;
  /** `Retry-After` is honoured up to this many ms. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetryMs: 60_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
};

/** The wait before retry number `retry` (0-based) after an outcome that asked for `retryAfterMs`. */
export function retryDelay(
  policy: RetryPolicy,
  retry: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry, 30));
  // Full jitter spreads the retries of concurrent requests that failed together.
  const backoff = Math.round(random() * ceiling);
  return Math.max(backoff, Math.min(retryAfterMs ?? 0, policy.maxRetryAfterMs));
}

export type RetryOutcome = Extract<AttemptOutcome, { kind: 'retry' }>;

export interface RetryNotice {
  outcome: RetryOutcome;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
}

/** A request failed for good: a permanent error, or the retry budget ran out. */
export class RequestFailedError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
    this.name = 'RequestFailedError';
  }
}

export interface RetriedResult {
  outcome: Extract<AttemptOutcome, { kind: 'ok' }>;
  /** Every failed attempt that was followed by another one. */
  retries: RetryOutcome[];
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the policy's time budget is spent.
 * Rejects with `RequestFailedError`, or with the abort reason when `signal` aborts.
 */
export async function withRetries(
  what: string,
  attempt: () => Promise<AttemptOutcome>,
  options: {
    policy: RetryPolicy;
    signal?: AbortSignal;
    onRetry?: (notice: RetryNotice) => void;
    random?: () => number;
  },
): Promise<RetriedResult> {
  const { policy, signal } = options;
  const started = Date.now();
  const deadline = started + policy.maxRetryMs;
  const retries: RetryOutcome[] = [];
  for (;;) {
    signal?.throwIfAborted();
    const outcome = await attempt();
    if (outcome.kind === 'ok') return { outcome, retries };
    if (outcome.kind === 'permanent') {
      throw new RequestFailedError(
        `${what} failed with ${outcome.status}: ${outcome.body}`,
        outcome.status,
        outcome.body,
      );
    }
    const remaining = deadline - Date.now();
    const retryAfterMs = Math.min(outcome.retryAfterMs ?? 0, policy.maxRetryAfterMs);
    // The last retry may come early to fit the budget, but never before the server's Retry-After.
    if (remaining <= 0 || retryAfterMs > remaining) {
      throw new RequestFailedError(
        `${what} still failing after ${retries.length + 1} attempts in ${Date.now() - started} ms ` +
          `(retry budget ${policy.maxRetryMs} ms, --max-retry-ms); last: ${outcome.detail}`,
      );
    }
    const delayMs = Math.min(remaining, retryDelay(policy, retries.length, outcome.retryAfterMs, options.random));
    retries.push(outcome);
    options.onRetry?.({ outcome, retry: retries.length, delayMs });
    await sleep(delayMs, undefined, { signal });
  }
}
