/**
 * One HTTP request to the service, classified the way an at-least-once producer must see it:
 * done, worth retrying (and whether the failed attempt may still have been enqueued), or a
 * permanent error.
 */
export type AttemptOutcome =
  | { kind: 'ok'; status: number; body: string; latencyMs: number }
  | {
      kind: 'retry';
      /** Short and stable, for counting: `429`, `503`, `5xx`, `timeout`, `network`. */
      reason: string;
      /** Human detail: the error code, or the reply's error code. */
      detail: string;
      /**
       * The attempt may have reached the queue although we got no success reply (no reply at
       * all, or a 5xx that can follow an enqueue Redis confirmed too late). Re-sending it may
       * therefore add duplicates the service will count.
       */
      uncertain: boolean;
      /** From `Retry-After`, in ms. */
      retryAfterMs?: number;
    }
  | { kind: 'permanent'; status: number; body: string };

export interface AttemptOptions {
  method: 'GET' | 'POST';
  body?: string;
  timeoutMs: number;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Aborts the whole run: the attempt then rejects instead of returning an outcome. */
  signal?: AbortSignal;
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into ms from `now`. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The `code` of an `{"error": {"code": …}}` reply, or the start of the body. */
export function errorCode(body: string): string {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    if (typeof code === 'string') return code;
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 80);
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

export async function attemptRequest(url: string, options: AttemptOptions): Promise<AttemptOutcome> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const started = performance.now();
  let status: number;
  let body: string;
  let retryAfter: string | null;
  try {
    const res = await fetch(url, {
      method: options.method,
      headers: {
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
        ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
      },
      body: options.body,
      signal,
    });
    status = res.status;
    retryAfter = res.headers.get('retry-after');
    // Read the whole body even when it is not needed, so the connection can be reused.
    body = await res.text();
  } catch (thrown: unknown) {
    if (options.signal?.aborted) throw thrown;
    if (timeout.aborted) {
      return { kind: 'retry', reason: 'timeout', detail: `no reply within ${options.timeoutMs} ms`, uncertain: true };
    }
    const code = networkCode(thrown);
    // A refused connection never carried the request; anything else may have reached the service.
    return { kind: 'retry', reason: 'network', detail: code, uncertain: code !== 'ECONNREFUSED' };
  }
  const latencyMs = performance.now() - started;
  if (status >= 200 && status < 300) return { kind: 'ok', status, body, latencyMs };
  if (status === 429 || status >= 500) {
    return {
      kind: 'retry',
      reason: status === 429 || status === 503 ? String(status) : '5xx',
      detail: `${status} ${errorCode(body)}`,
      // A 429 refuses before enqueueing; a 5xx may come after Redis took the jobs too late.
      uncertain: status !== 429,
      retryAfterMs: parseRetryAfter(retryAfter),
    };
  }
  return { kind: 'permanent', status, body };
}
