/** How a request is retried: capped exponential backoff with full jitter, never sooner than `Retry-After`. */
export interface RetryPolicy {
  /** Longest time from a request's first attempt to its last; 0 disables retries, Infinity never gives up. */
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

/** Parses `Retry-After` (delta seconds or an HTTP date) into ms from `now`. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (timers of the platform, no Node API). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
