import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '@aggregator/common';
import { AppError } from './appErrors.js';
import { envelopeOf } from './errorEnvelope.js';

/** The reply to a request Node's HTTP parser (or its timers) rejected, by the error's code. */
function toParserError(code: string | undefined): AppError {
  switch (code) {
    case 'HPE_INVALID_METHOD':
      return new AppError('method_not_allowed', 501, 'method not implemented');
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('malformed_request', 431, 'the request headers are larger than the server accepts');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new AppError('payload_too_large', 413, 'the chunk extensions are larger than the server accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout', 408, 'the request did not arrive in time');
    default:
      return new AppError('malformed_request', 400, 'the request is not valid HTTP/1.1');
  }
}

/**
 * A `clientError` listener for the API's `http.Server`. Node's HTTP parser rejects some requests
 * before Koa sees them: a method it does not know (`FOO / HTTP/1.1`), a malformed request line or
 * header, headers over the size limit, a request too slow to arrive. Left alone, Node answers with
 * a bare status line and no body; this answers in the API's error shape instead, and logs the
 * rejection at debug level: it is the client's mistake, not ours.
 */
export function clientErrorReply(logger: Logger): (error: NodeJS.ErrnoException, socket: Duplex) => void {
  return (error, socket) => {
    // Node's default: answer only on a socket that can take a whole reply, i.e. none of a
    // response to an earlier request on this connection has been written yet.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      logger.debug({ code: error.code }, 'connection closed by a client error');
      socket.destroy();
      return;
    }
    const appError = toParserError(error.code);
    const body = JSON.stringify(envelopeOf(appError));
    socket.end(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
    const { reason } = error as { reason?: string };
    logger.debug({ code: error.code, reason, status: appError.status }, 'request rejected by the HTTP parser');
  };
}
