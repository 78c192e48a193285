import type { Config, Failpoints, Metrics } from '@aggregator/common';
import type { Middleware } from 'koa';
import { readJsonBody } from '../http/readJsonBody.js';
import type { Publisher } from './batchPublisher.js';
import { parsePublishBody } from './parsePublishBody.js';
import type { QueueDepthGuard } from './queueDepthGuard.js';

/**
 * `POST /publish`: one event, an array of events, or `{"events": [...]}`. Validates all or
 * nothing, then answers `{"accepted": N}` only after every event is in the queue. Refused with 429
 * before the body is read while the queue is over `MAX_QUEUE_DEPTH`.
 */
export function publishRoute(
  config: Config,
  publisher: Publisher,
  guard: QueueDepthGuard,
  metrics: Metrics,
  failpoints: Failpoints,
): Middleware {
  return async (ctx) => {
    guard.check();
    const body = await readJsonBody(ctx, config.MAX_BODY_BYTES);
    const events = parsePublishBody(body, config.MAX_BATCH);
    await publisher.publish(events);
    failpoints.hit('api.after-enqueue');
    metrics.eventsAccepted.inc(events.length);
    ctx.body = { accepted: events.length };
  };
}
