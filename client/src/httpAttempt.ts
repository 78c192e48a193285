import { ApiError, errorOf, RetriesExhaustedError } from './errors.js';
import { parseRetryAfter, type RetryPolicy, retryDelay, sleep } from './retryPolicy.js';

/** Where the service is and how to reach it; shared by every call of one client. */
export interface Connection {
  /** The service's base URL (`http://localhost:8080`); a trailing slash is ignored. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` (the service's `API_TOKEN` or `READ_TOKEN`). */
  token?: string;
  /** The fetch to use; the platform's by default. */
  fetch: typeof fetch;
  /** Longest wait for one reply (not for a stream once it is open). */
  requestTimeoutMs: number;
}

/**
 * One HTTP request, classified the way an at-least-once producer must see it: done, worth
 * retrying (and whether the failed attempt may still have reached the queue), or permanent.
 */
export type AttemptOutcome =
  | { kind: 'ok'; status: number; body: string; headers: Headers; latencyMs: number }
  | {
      kind: 'retry';
      /** Short and stable, for counting: `408`, `429`, `503`, `5xx`, `timeout`, `network`. */
      reason: string;
      /** Human detail: the status and the reply's error code, or the network error. */
      detail: string;
      /**
       * The attempt may have reached the queue although there was no success reply (no reply at
       * all, or a `5xx` that can follow an enqueue Redis confirmed too late); re-sending it may
       * add duplicates, which the service counts and drops.
       */
      uncertain: boolean;
      /** From `Retry-After`, in ms. */
      retryAfterMs?: number;
    }
  | { kind: 'permanent'; status: number; body: string };

export interface AttemptRequest {
  method: 'GET' | 'POST';
  /** Path and query, starting with `/`. */
  path: string;
  body?: string;
  /** Aborts the call: the attempt then rejects with the signal's reason instead of returning. */
  signal?: AbortSignal;
}

/** Node's fetch wraps socket errors: `TypeError('fetch failed', { cause: { code } })`. */
function networkCode(thrown: unknown): string {
  let current: unknown = thrown;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/** The service's address joined with `path`. */
export function urlOf(connection: Connection, path: string): string {
  return `${connection.url.replace(/\/+$/, '')}${path}`;
}

/** Headers of every request: the bearer token when there is one. */
export function authHeaders(connection: Connection): Record<string, string> {
  return connection.token === undefined ? {} : { authorization: `Bearer ${connection.token}` };
}

/** Sends one request and classifies its outcome. */
export async function attemptRequest(connection: Connection, request: AttemptRequest): Promise<AttemptOutcome> {
  const timeout = AbortSignal.timeout(connection.requestTimeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const started = performance.now();
  let res: Response;
  let body: string;
  try {
    res = await connection.fetch(urlOf(connection, request.path), {
      method: request.method,
      headers: {
        ...(request.body !== undefined && { 'content-type': 'application/json' }),
        ...authHeaders(connection),
      },
      body: request.body,
      signal,
    });
    // Read the whole body even when it is not needed, so the connection can be reused.
    body = await res.text();
  } catch (thrown: unknown) {
    if (request.signal?.aborted) throw request.signal.reason;
    if (timeout.aborted) {
      return {
        kind: 'retry',
        reason: 'timeout',
        detail: `no reply within ${connection.requestTimeoutMs} ms`,
        uncertain: true,
      };
    }
    const code = networkCode(thrown);
    // A refused connection never carried the request; anything else may have reached the service.
    return { kind: 'retry', reason: 'network', detail: code, uncertain: code !== 'ECONNREFUSED' };
  }
  const { status } = res;
  if (status >= 200 && status < 300) {
    return { kind: 'ok', status, body, headers: res.headers, latencyMs: performance.now() - started };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      kind: 'retry',
      reason: status === 408 || status === 429 || status === 503 ? String(status) : '5xx',
      detail: `${status} ${errorOf(body)?.code ?? body.slice(0, 80)}`,
      // 408 and 429 refuse before enqueueing; a 5xx may come after Redis took the jobs too late.
      uncertain: status >= 500,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
    };
  }
  return { kind: 'permanent', status, body };
}

/** The error a permanent outcome stands for. */
export function apiErrorOf(outcome: { status: number; body: string }): ApiError {
  const error = errorOf(outcome.body);
  return new ApiError(
    outcome.status,
    error?.code ?? 'unknown',
    error?.message ?? outcome.body.slice(0, 200),
    error?.details,
    outcome.body,
  );
}

export type RetryOutcome = Extract<AttemptOutcome, { kind: 'retry' }>;

/** Said before each retry. */
export interface RetryNotice {
  outcome: RetryOutcome;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  onRetry?: (notice: RetryNotice) => void;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails permanently (`ApiError`), or the policy's time budget is
 * spent (`RetriesExhaustedError`); rejects with the signal's reason when `signal` aborts.
 */
export async function withRetries(
  what: string,
  attempt: () => Promise<AttemptOutcome>,
  options: RetryOptions,
): Promise<Extract<AttemptOutcome, { kind: 'ok' }>> {
  const { policy, signal } = options;
  const started = Date.now();
  const deadline = started + policy.maxRetryMs;
  let retries = 0;
  let uncertain = false;
  for (;;) {
    signal?.throwIfAborted();
    const outcome = await attempt();
    if (outcome.kind === 'ok') return outcome;
    if (outcome.kind === 'permanent') throw apiErrorOf(outcome);
    uncertain ||= outcome.uncertain;
    const remaining = deadline - Date.now();
    const retryAfterMs = Math.min(outcome.retryAfterMs ?? 0, policy.maxRetryAfterMs);
    // The last retry may come early to fit the budget, but never before the server's Retry-After.
    if (remaining <= 0 || retryAfterMs > remaining) {
      throw new RetriesExhaustedError(
        `${what} still failing after ${retries + 1} attempts in ${Date.now() - started} ms ` +
          `(retry budget ${policy.maxRetryMs} ms); last: ${outcome.detail}`,
        retries + 1,
        uncertain,
      );
    }
    const delayMs = Math.min(remaining, retryDelay(policy, retries, outcome.retryAfterMs, options.random));
    retries++;
    options.onRetry?.({ outcome, retry: retries, delayMs });
    await sleep(delayMs, signal);
  }
}
