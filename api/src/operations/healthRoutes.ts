import { coerceError, type Keys, type Redis } from '@aggregator/common';
import type { Middleware } from 'koa';
import { UnavailableError } from '../http/appErrors.js';
import { withTimeout } from '../publishing/batchPublisher.js';
import type { StoreProvider } from '../reading/storeProvider.js';

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

/**
 * Whether Redis takes writes where this replica enqueues: a small write (`SET … PX`) on every
 * partition's node. A ping is not enough: Redis at `maxmemory` (OOM), or a demoted master
 * (READONLY), still answers pings while it refuses every enqueue.
 */
async function redisTakesWrites(redis: Redis, keys: Keys): Promise<void> {
  await Promise.all(keys.queues.map((queue) => redis.set(queue.probe, '1', 'PX', PROBE_TTL_MS)));
}

/** A probe key outlives a few probes, so it does not churn, and then goes. */
const PROBE_TTL_MS = 60_000;

/**
 * `GET /readyz`: 200 when Redis takes writes and the store is readable, else 503 naming what is
 * down and why (Redis' own refusal, such as `OOM command not allowed`, or the store's message).
 */
export function readyzRoute(redis: Redis, keys: Keys, store: StoreProvider, readiness: Readiness): Middleware {
  return async (ctx) => {
    if (readiness.shuttingDown) throw new UnavailableError('shutting_down', 'this replica is shutting down');
    const [redisState, storeState] = await Promise.all([
      check(() => redisTakesWrites(redis, keys)),
      check(() => store.read((reader) => reader.readCounters())),
    ]);
    const states = { redis: redisState, store: storeState };
    const checks = { redis: state(states.redis), store: state(states.store) };
    const down = Object.entries(states).filter((entry): entry is [string, Error] => entry[1] !== 'up');
    if (down.length > 0) {
      const reasons = down.map(([name, error]) => `${name} is down (${error.message})`);
      throw new UnavailableError('not_ready', `not ready: ${reasons.join('; ')}`, { details: checks });
    }
    ctx.body = { status: 'ready', checks };
  };
}

const state = (s: 'up' | Error) => (s === 'up' ? 'up' : 'down');
