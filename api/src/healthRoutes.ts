import { coerceError, type Redis, UnavailableError } from '@aggregator/common';
import type { Middleware } from 'koa';
import { withTimeout } from './batchPublisher.js';
import type { StoreProvider } from './storeProvider.js';

/** Shared between the routes and the shutdown sequence. */
export interface Readiness {
  shuttingDown: boolean;
}

/** `GET /healthz`: the process runs and answers. */
export function healthzRoute(): Middleware {
  return (ctx) => {
    ctx.body = { status: 'ok' };
  };
}

/** `up`, or why the probe failed. */
async function check(probe: () => unknown): Promise<'up' | Error> {
  try {
    await withTimeout(Promise.resolve().then(probe), 500, () => new Error('timed out'));
    return 'up';
  } catch (thrown: unknown) {
    return coerceError(thrown);
  }
}

/** `GET /readyz`: 200 when Redis answers and the store is readable, else 503 naming what is down. */
export function readyzRoute(redis: Redis, store: StoreProvider, readiness: Readiness): Middleware {
  return async (ctx) => {
    if (readiness.shuttingDown) throw new UnavailableError('shutting_down', 'this replica is shutting down');
    const [redisState, storeState] = await Promise.all([
      check(() => redis.ping()),
      check(() => store.read((reader) => reader.readCounters())),
    ]);
    const state = (s: 'up' | Error) => (s === 'up' ? 'up' : 'down');
    const checks = { redis: state(redisState), store: state(storeState) };
    const down = Object.entries(checks)
      .filter(([, s]) => s === 'down')
      .map(([name]) => name);
    if (down.length > 0) {
      // The store's own message names it and says why (unreachable, not created, schema version).
      const why = storeState === 'up' ? '' : ` (${storeState.message})`;
      throw new UnavailableError(
        'not_ready',
        `not ready: ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down${why}`,
        {
          details: checks,
        },
      );
    }
    ctx.body = { status: 'ready', checks };
  };
}
