import type { Config } from '@aggregator/common';
import { type Failpoints, type Metrics, parseFailpoints } from '@aggregator/common';
import Router from '@koa/router';
import Koa from 'koa';
import { AppError } from './http/appErrors.js';
import { bearerAuth } from './http/bearerAuth.js';
import { errorMiddleware } from './http/errorMiddleware.js';
import { type RequestState, requestId } from './http/requestId.js';
import { adminRoutes } from './operations/adminRoutes.js';
import { healthzRoute, type Readiness, readyzRoute } from './operations/healthRoutes.js';
import { httpMetrics, metricsRoute, registerClusterGauges } from './operations/metricsRoute.js';
import { openApiRoute } from './operations/openApiRoute.js';
import { readStats, type StatsDeps } from './operations/readStats.js';
import { statusPageRoute } from './operations/statusPage/statusPage.js';
import type { Publisher } from './publishing/batchPublisher.js';
import { publishRoute } from './publishing/publishRoute.js';
import type { QueueDepthGuard } from './publishing/queueDepthGuard.js';
import { eventsRoute } from './reading/eventsRoute.js';
import { topicsRoute } from './reading/topicsRoute.js';
import type { OpenStreams } from './streams/openStreams.js';
import type { StreamHub } from './streams/streamHub.js';
import { streamRoute } from './streams/streamRoute.js';

/** Everything the HTTP app needs; only composeApi.ts (and tests of one route) create these. */
export interface AppDeps extends StatsDeps {
  config: Config;
  publisher: Publisher;
  guard: QueueDepthGuard;
  metrics: Metrics;
  /** Test-only crash points (see common/src/failpoints.ts); a no-op unless configured. */
  failpoints?: Failpoints;
  readiness: Readiness;
  /** The fan-out of new events to this replica's streams, and the streams open. */
  hub: StreamHub;
  streams: OpenStreams;
}

/**
 * Builds the Koa app. Handlers parse, call one function, and shape the reply; errors go to the
 * one error middleware, and from there to `app.on('error')`.
 */
export function createApp(deps: AppDeps): Koa<RequestState> {
  // proxy: the address, host and scheme a proxy in front reports. maxIpsCount 1: of
  // X-Forwarded-For, only the address the nearest proxy appended (a client may write the rest).
  const app = new Koa<RequestState>({ proxy: true, maxIpsCount: 1 });
  registerClusterGauges(deps.metrics, deps, deps.logger);
  const router = new Router<RequestState>();

  const canPublish = bearerAuth(deps.config.API_TOKEN);
  const canRead = bearerAuth(deps.config.READ_TOKEN);
  router.post(
    '/publish',
    canPublish,
    publishRoute(deps.config, deps.publisher, deps.guard, deps.metrics, deps.failpoints ?? parseFailpoints(undefined)),
  );
  router.get('/events', canRead, eventsRoute(deps.store));
  router.get('/events/stream', bearerAuth(deps.config.READ_TOKEN, 'access_token'), streamRoute(deps));
  router.get('/topics', canRead, topicsRoute(deps.store));
  router.get('/stats', canRead, async (ctx) => {
    ctx.body = await readStats(deps);
  });
  router.get('/', statusPageRoute());
  router.get('/openapi.json', openApiRoute());
  router.get('/metrics', canRead, metricsRoute(deps.metrics));
  router.get('/healthz', healthzRoute());
  router.get('/readyz', readyzRoute(deps.redis, deps.keys, deps.store, deps.readiness));

  // Outermost, so it sees the status the error middleware settles on.
  app.use(httpMetrics(deps.metrics));
  app.use(errorMiddleware());
  app.use(requestId());
  if (deps.config.ADMIN_TOKEN) app.use(adminRoutes(deps.queues, deps.config.ADMIN_TOKEN));
  app.use(router.routes());
  app.use(refusedMethods(router));

  app.on('error', (error: Error, ctx?: Koa.Context) => {
    const status = ctx?.status ?? 500;
    const requestId = (ctx?.state as RequestState | undefined)?.requestId;
    // Only our own failures are errors. A refusal is the client's: any 4xx, and 501 for a method
    // the API does not implement (PROPFIND, …).
    if (status >= 500 && status !== 501) {
      deps.logger.error({ err: error, status, path: ctx?.path, requestId }, 'request failed');
    } else {
      deps.logger.debug({ status, path: ctx?.path, code: (error as AppError).code, requestId }, 'request rejected');
    }
  });
  return app;
}

/**
 * The router's 405 and 501 as errors in the API's shape. The router is asked not to throw, so that
 * it sets `Allow` (the methods the path has) first; a 405 without it leaves a client guessing.
 */
function refusedMethods(router: Router): ReturnType<Router['allowedMethods']> {
  const allowedMethods = router.allowedMethods();
  return async (ctx, next) => {
    await allowedMethods(ctx, next);
    if (ctx.body !== undefined && ctx.body !== null) return;
    const headers = { Allow: ctx.response.get('Allow') };
    if (ctx.status === 405)
      throw new AppError('method_not_allowed', 405, 'method not allowed on this route', { headers });
    if (ctx.status === 501) throw new AppError('method_not_allowed', 501, 'method not implemented', { headers });
  };
}
