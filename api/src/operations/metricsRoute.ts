import {
  coerceError,
  type Logger,
  type Metrics,
  readMirroredCounters,
  readRedisMemory,
  scrapeGauge,
  WORKER_LIVENESS_MS,
} from '@aggregator/common';
import type { Middleware } from 'koa';
import { countPartitionJobs } from '../publishing/partitionQueues.js';
import type { StatsDeps } from './readStats.js';

const STREAM_ROUTE = '/events/stream';

/**
 * Records every request's duration by route pattern (not raw path, so ids in URLs cannot explode
 * the label set), method and status; all but the event streams that opened.
 */
export function httpMetrics(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const end = metrics.httpDuration.startTimer();
    try {
      await next();
    } finally {
      const route = String((ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched');
      // An open event stream lasts as long as its client stays: not a latency (the stream metrics
      // count streams). Its refusals (400, 401, 503) are recorded as any reply.
      if (!(route === STREAM_ROUTE && ctx.status === 200)) {
        end({ route, method: ctx.method, status: String(ctx.status) });
      }
    }
  };
}

/**
 * Adds the cluster-wide gauges read at scrape time: the exact counters (from the Redis hash), queue
 * jobs by state, and live workers. Any replica reports the same values.
 */
export function registerClusterGauges(metrics: Metrics, deps: StatsDeps, logger: Logger): void {
  const warn = (e: unknown) => logger.debug({ err: coerceError(e).message }, 'metrics scrape: Redis unavailable');
  scrapeGauge(metrics, {
    name: 'aggregator_events',
    help: 'Exact event counters of the whole service (received, unique_processed, duplicate_dropped)',
    labelNames: ['kind'] as const,
    collect: async (gauge) => {
      const counters = await readMirroredCounters(deps.redis, deps.keys).catch(warn);
      if (!counters) return;
      gauge.set({ kind: 'received' }, counters.received);
      gauge.set({ kind: 'unique_processed' }, counters.unique_processed);
      gauge.set({ kind: 'duplicate_dropped' }, counters.duplicate_dropped);
    },
  });
  scrapeGauge(metrics, {
    name: 'aggregator_queue_jobs',
    help: 'Jobs in the queue by partition and state',
    labelNames: ['partition', 'state'] as const,
    collect: async (gauge) => {
      const partitions = await countPartitionJobs(deps.queues).catch(warn);
      if (!partitions) return;
      for (const { partition, ...counts } of partitions) {
        for (const [state, n] of Object.entries(counts)) gauge.set({ partition: String(partition), state }, n);
      }
    },
  });
  scrapeGauge(metrics, {
    name: 'aggregator_redis_memory_bytes',
    help: 'Memory of each Redis master: used (used_memory) and max (maxmemory; 0 is no limit)',
    labelNames: ['node', 'kind'] as const,
    collect: async (gauge) => {
      const masters = await readRedisMemory(deps.redis).catch(warn);
      for (const { node, used, max } of masters ?? []) {
        gauge.set({ node, kind: 'used' }, used);
        gauge.set({ node, kind: 'max' }, max);
      }
    },
  });
  scrapeGauge(metrics, {
    name: 'aggregator_workers',
    help: 'Worker replicas with a heartbeat in the last 10 s',
    collect: async (gauge) => {
      const n = await deps.redis.zcount(deps.keys.workers, Date.now() - WORKER_LIVENESS_MS, '+inf').catch(warn);
      if (typeof n === 'number') gauge.set(n);
    },
  });
}

/** `GET /metrics`: Prometheus text format. */
export function metricsRoute(metrics: Metrics): Middleware {
  return async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}
