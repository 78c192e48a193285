import { coerceError } from '@aggregator/common';
import type { Middleware } from 'koa';
import { AppError, type ErrorCode } from './appErrors.js';
import { closeAfterReply } from './closeAfterReply.js';
import { envelopeOf } from './errorEnvelope.js';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'malformed_json',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Maps anything thrown to an AppError; unknown errors become a bare 500 that reveals nothing. */
export function toAppError(error: Error): AppError {
  if (error instanceof AppError) return error;
  // Errors from Koa itself and its ecosystem (http-errors) carry `status` and `expose`.
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true) {
    return new AppError(CODE_BY_STATUS[status] ?? 'invalid_query', status, error.message);
  }
  return new AppError('internal', 500, 'internal server error', { cause: error });
}

/**
 * The one error sink of the API, first in the chain. Known errors become
 * `{"error": {"code", "message", "details"}}`; anything else a bare 500. Every error is emitted on
 * `app` ('error'), where main.ts logs it.
 */
export function errorMiddleware(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('not_found', 404, `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (thrown: unknown) {
      const error = coerceError(thrown);
      const appError = toAppError(error);
      ctx.status = appError.status;
      ctx.set(appError.headers);
      // Refused before its body was read: no waiting on a body nobody wants, at the client's pace.
      if (!ctx.req.complete) closeAfterReply(ctx);
      ctx.body = envelopeOf(appError);
      ctx.app.emit('error', error, ctx);
    }
  };
}
