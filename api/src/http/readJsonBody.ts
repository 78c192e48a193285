import { coerceError } from '@aggregator/common';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { AppError, MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from './appErrors.js';

/**
 * Reads and parses a JSON request body.
 *
 * @throws UnsupportedMediaTypeError (415) unless Content-Type is JSON in UTF-8;
 *   PayloadTooLargeError (413) past `maxBytes` (checked against Content-Length first, then while
 *   reading); MalformedJsonError (400) for a body that is not JSON.
 */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  const type = ctx.get('Content-Type');
  // ctx.is() answers null for an empty body; look at the media type itself.
  const media = ctx.request.type.toLowerCase();
  if (media !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(media)) {
    throw new UnsupportedMediaTypeError(type || undefined);
  }
  const charset = ctx.request.charset;
  if (charset && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
    throw new UnsupportedMediaTypeError(type);
  }
  let text: string;
  try {
    text = await getRawBody(ctx.req, {
      length: ctx.get('Content-Length') || undefined,
      limit: maxBytes,
      encoding: 'utf8',
    });
  } catch (thrown: unknown) {
    const error = coerceError(thrown) as Error & { type?: string };
    if (error.type === 'entity.too.large') throw new PayloadTooLargeError(maxBytes);
    if (error.type === 'request.aborted' || error.type === 'request.size.invalid') {
      throw new AppError('malformed_json', 400, `the body could not be read: ${error.message}`);
    }
    throw error;
  }
  if (text.trim() === '') throw new MalformedJsonError('the body is empty');
  try {
    return JSON.parse(text);
  } catch (thrown: unknown) {
    throw new MalformedJsonError(coerceError(thrown).message);
  }
}
