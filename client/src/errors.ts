/**
 * What the client throws. Each error says whether the events involved may have reached the
 * service, since that decides what a producer may do next (re-sending with the same `event_id`s is
 * always safe: the service drops the copies as duplicates).
 */

/** A reply the client does not retry: a `4xx` but `408`/`429`. `code` is the API's error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** The reply's body as received. */
    readonly body?: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

/** A request kept failing with retryable errors until its retry budget ran out. */
export class RetriesExhaustedError extends Error {
  constructor(
    message: string,
    /** HTTP attempts made. */
    readonly attempts: number,
    /** Whether an attempt may have reached the queue despite the failure (no reply, or a `5xx`). */
    readonly uncertain: boolean,
  ) {
    super(message);
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * The server ended an event stream with an error a consumer must decide about: `stream_fell_behind`
 * (it read too slowly). Resume with `after: error.lastEventId`, which misses nothing.
 */
export class StreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The `seq` of the last event delivered; resume after it. */
    readonly lastEventId: number,
  ) {
    super(`${code}: ${message}`);
    this.name = 'StreamError';
  }
}

/** `publish` on a publisher that is closing or closed. */
export class PublisherClosedError extends Error {
  constructor() {
    super('the publisher is closed');
    this.name = 'PublisherClosedError';
  }
}

/** Reads the `{"error": {"code", "message", "details"}}` envelope of a reply body, if it is one. */
export function errorOf(body: string): { code: string; message: string; details?: unknown } | undefined {
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
    if (error && typeof error.code === 'string') {
      return {
        code: error.code,
        message: typeof error.message === 'string' ? error.message : '',
        details: error.details,
      };
    }
  } catch {
    // not JSON: no envelope
  }
  return undefined;
}
