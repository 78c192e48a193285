import { type Config, parsePublishBody } from '@aggregator/common';
import type { Middleware } from 'koa';
import type { Publisher } from './batchPublisher.js';
import { readJsonBody } from './readJsonBody.js';

/**
 * `POST /publish`: one event, an array of events, or `{"events": [...]}`. Validates all or
 * nothing, then answers `{"accepted": N}` only after every event is in the queue.
 */
export function publishRoute(config: Config, publisher: Publisher): Middleware {
  return async (ctx) => {
    const body = await readJsonBody(ctx, config.MAX_BODY_BYTES);
    const events = parsePublishBody(body, config.MAX_BATCH);
    await publisher.publish(events);
    ctx.body = { accepted: events.length };
  };
}
