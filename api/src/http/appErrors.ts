/**
 * The errors the API answers with. Every error a client can see is an `AppError` with a stable
 * string `code`: the codes are part of the public API (see README, "Errors"), exported from
 * `@aggregator/api`. The worker and the store never answer a client: what they share about
 * failures (`coerceError`, `classifyFailure`) is in `@aggregator/common`.
 */

/** Every code a client may receive in `{"error": {"code": …}}`. */
export const ERROR_CODES = [
  'validation_failed',
  'malformed_json',
  'malformed_request',
  'unsupported_media_type',
  'payload_too_large',
  'batch_too_large',
  'invalid_query',
  'unauthorized',
  'cross_site_request',
  'not_found',
  'method_not_allowed',
  'request_timeout',
  'queue_full',
  'redis_unavailable',
  'store_unavailable',
  'not_ready',
  'shutting_down',
  'too_many_streams',
  'stream_fell_behind',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem found in a publish body. `index` is the event's position, null for the body itself. */
export interface ValidationIssue {
  index: number | null;
  path: string;
  message: string;
}

export interface AppErrorOptions {
  /** Shown to the client in `details`. */
  details?: unknown;
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Base of all errors with a meaning for clients. `expose` is false only for 5xx internals. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, status: number, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = status < 500 || code !== 'internal';
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends AppError {
  constructor(message: string, issues: ValidationIssue[]) {
    super('validation_failed', 422, message, { details: issues });
  }
}

export class MalformedJsonError extends AppError {
  constructor(reason: string) {
    super('malformed_json', 400, `the body is not valid JSON: ${reason}`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(got: string | undefined) {
    super(
      'unsupported_media_type',
      415,
      `Content-Type must be application/json (UTF-8), got ${got ? JSON.stringify(got) : 'none'}`,
    );
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super('payload_too_large', 413, `the body is larger than the limit of ${limitBytes} bytes`);
  }
}

export class BatchTooLargeError extends AppError {
  constructor(count: number, limit: number) {
    super('batch_too_large', 413, `the batch has ${count} events, more than the limit of ${limit}`);
  }
}

export class InvalidQueryError extends AppError {
  constructor(message: string, details?: unknown) {
    super('invalid_query', 400, message, { details });
  }
}

export class UnauthorizedError extends AppError {
  constructor() {
    super('unauthorized', 401, 'a valid "Authorization: Bearer <token>" header is required', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
}

/** A state-changing request to the queue UI from a page of another origin (CSRF). */
export class CrossSiteRequestError extends AppError {
  constructor(reason: string) {
    super('cross_site_request', 403, reason);
  }
}

export class QueueFullError extends AppError {
  constructor(depth: number, limit: number, retryAfterSeconds: number) {
    super('queue_full', 429, `the queue holds ${depth} events, over the limit of ${limit}; retry later`, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** A dependency is down; the client should retry after `Retry-After` seconds. */
export class UnavailableError extends AppError {
  constructor(
    code: 'redis_unavailable' | 'store_unavailable' | 'not_ready' | 'shutting_down' | 'too_many_streams',
    message: string,
    options: { retryAfterSeconds?: number; details?: unknown; cause?: unknown } = {},
  ) {
    super(code, 503, message, {
      headers: { 'Retry-After': String(options.retryAfterSeconds ?? 1) },
      details: options.details,
      cause: options.cause,
    });
  }
}
