import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process (prom-client). Every name starts with `aggregator_`; the README
 * lists them. Each process has its own registry, so tests can create several side by side.
 */
export function createMetrics(service: 'api' | 'worker') {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'aggregator_' });
  const fast = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  return {
    registry,
    /** API: request latency by route pattern, method and status. */
    httpDuration: new Histogram({
      name: 'aggregator_http_request_duration_seconds',
      help: 'HTTP request duration by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: fast,
      registers: [registry],
    }),
    /** API: events acknowledged to producers (duplicates included). */
    eventsAccepted: new Counter({
      name: 'aggregator_events_accepted_total',
      help: 'Events this API replica acknowledged with 200 (duplicates included)',
      registers: [registry],
    }),
    /** Worker: events this replica took in, by outcome. */
    eventsProcessed: new Counter({
      name: 'aggregator_events_processed_total',
      help: 'Events this worker replica took in, by outcome (inserted or duplicate)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    /** Worker: wall time of one job, from claim to counters. */
    jobDuration: new Histogram({
      name: 'aggregator_job_duration_seconds',
      help: 'Time to process one job (fast path, store, counters)',
      buckets: fast,
      registers: [registry],
    }),
    /** Worker: events per job. */
    jobEvents: new Histogram({
      name: 'aggregator_job_events',
      help: 'Events per job (batch size)',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000],
      registers: [registry],
    }),
    /** Worker: jobs that failed an attempt, by reason. */
    jobFailures: new Counter({
      name: 'aggregator_job_failures_total',
      help: 'Job attempts that failed (they are retried), by reason code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    /** Worker: one SQLite transaction (a job's inserts and counters). */
    sqliteTransaction: new Histogram({
      name: 'aggregator_sqlite_transaction_seconds',
      help: 'Time from a job reaching the store until its transaction (shared by group commit) committed',
      buckets: fast,
      registers: [registry],
    }),
    /** API: open `GET /events/stream` connections. */
    streamsOpen: new Gauge({
      name: 'aggregator_streams_open',
      help: 'Event streams (GET /events/stream) open on this API replica',
      registers: [registry],
    }),
    /** API: events written to streams. */
    streamEventsDelivered: new Counter({
      name: 'aggregator_stream_events_delivered_total',
      help: 'Events this API replica wrote to its event streams',
      registers: [registry],
    }),
    /** API: streams this replica ended itself, by reason (fell_behind, shutting_down, store_unavailable). */
    streamsCut: new Counter({
      name: 'aggregator_streams_cut_total',
      help: 'Event streams this API replica ended, by reason (fell_behind, buffer_budget, shutting_down, store_unavailable)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    /** Worker: fast-path lookups, by result: hit (another job claimed the pair) or miss. */
    fastPathLookups: new Counter({
      name: 'aggregator_fast_path_lookups_total',
      help: 'Pairs looked up in the fast path by this worker, by result (hit: claimed by another job; miss: new to it)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    /** Worker: the fast path's memory budget in Redis, summed over the partitions it consumes. */
    fastPathBudget: new Gauge({
      name: 'aggregator_fast_path_budget_bytes',
      help: 'Redis memory the fast path may use for the partitions this worker consumes',
      registers: [registry],
    }),
    /** Both: Redis connection errors. */
    redisErrors: new Counter({
      name: 'aggregator_redis_errors_total',
      help: 'Redis connection errors seen by this process',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A gauge whose value is read at scrape time. */
export function scrapeGauge<L extends string>(
  metrics: Metrics,
  options: { name: string; help: string; labelNames?: readonly L[]; collect: (gauge: Gauge<L>) => Promise<void> },
): Gauge<L> {
  const { collect, ...rest } = options;
  return new Gauge<L>({
    ...rest,
    registers: [metrics.registry],
    async collect() {
      await collect(this);
    },
  });
}

/** Serves `GET /metrics` on its own port (workers have no other HTTP server). */
export function serveMetrics(metrics: Metrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":{"code":"not_found","message":"try GET /metrics"}}');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
