import { randomUUID } from 'node:crypto';
import type { Logger } from '@aggregator/common';
import type { Middleware } from 'koa';

const SAFE_ID = /^[\w.:-]{1,128}$/;

export interface RequestState {
  requestId: string;
  log: Logger;
}

/**
 * Accepts a sane `X-Request-Id` from the client (or the load balancer) or makes one, returns it in
 * the response, and gives the request a child logger carrying it.
 */
export function requestId(logger: Logger): Middleware<RequestState> {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const id = SAFE_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.state.log = logger.child({ requestId: id });
    ctx.set('X-Request-Id', id);
    await next();
  };
}
