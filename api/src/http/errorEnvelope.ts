import type { AppError, ErrorCode } from './appErrors.js';

/**
 * The body of every error the API answers, whatever answers it: the error middleware, the queue
 * UI's own 401, the HTTP parser's rejections (clientErrorReply.ts) and the final message of a
 * stream (sseStream.ts). `details` is there only when the error has some.
 */
export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** `{"error": {"code", "message", "details"?}}`. */
export function errorEnvelope(code: ErrorCode, message: string, details?: unknown): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = { code, message };
  if (details !== undefined) error.details = details;
  return { error };
}

/** The envelope of an `AppError`. */
export function envelopeOf(error: AppError): ErrorEnvelope {
  return errorEnvelope(error.code, error.message, error.details);
}
