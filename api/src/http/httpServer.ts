import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config, Logger } from '@aggregator/common';
import { clientErrorReply } from './clientErrorReply.js';

/** How often Node looks for requests past their timeouts (its default, 30 s, let slow headers live 71 s). */
const TIMEOUT_CHECK_MS = 500;

/**
 * The API's HTTP server, with its limits set on purpose rather than left to Node's defaults (which
 * cut slow headers after 60–90 s and a trickled body after 300 s, and take any number of
 * connections): `HTTP_HEADERS_TIMEOUT_MS`, `HTTP_REQUEST_TIMEOUT_MS`, `HTTP_KEEP_ALIVE_TIMEOUT_MS`,
 * `MAX_CONNECTIONS`. A request its parser or timers reject is answered in the API's error shape.
 */
export function createHttpServer(
  config: Pick<
    Config,
    'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS' | 'MAX_CONNECTIONS'
  >,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  logger: Logger,
): Server {
  const server = createServer(
    {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, config.HTTP_HEADERS_TIMEOUT_MS / 2),
    },
    handler,
  );
  if (config.MAX_CONNECTIONS > 0) server.maxConnections = config.MAX_CONNECTIONS;
  // Debug only: a flood of connections would otherwise flood the log too.
  server.on('drop', (data?: { remoteAddress?: string }) =>
    logger.debug({ client: data?.remoteAddress }, 'connection closed at once: MAX_CONNECTIONS reached'),
  );
  server.on('clientError', clientErrorReply(logger));
  return server;
}
