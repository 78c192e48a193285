import autocannon from 'autocannon';
import type { EventFactory } from './eventFactory.js';

export interface LoadOptions {
  url: string;
  /** Requests to send. */
  requests: number;
  /** Events per request. */
  batch: number;
  connections: number;
  /** Requests per second over all connections; unlimited when absent. */
  rate?: number;
  /** Build every body before sending (keeps the generator's CPU out of the measurement). */
  pregenerate: boolean;
}

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50: number;
  latencyP99: number;
  durationSeconds: number;
}

/** Sends `requests` publish requests with autocannon and reports its figures. */
export async function runLoad(factory: EventFactory, options: LoadOptions): Promise<LoadResult> {
  const bodies = options.pregenerate ? Array.from({ length: options.requests }, () => factory.body(options.batch)) : [];
  let next = 0;
  const result = await autocannon({
    url: `${options.url}/publish`,
    connections: options.connections,
    amount: options.requests,
    overallRate: options.rate,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          request.body = options.pregenerate ? bodies[next++ % bodies.length] : factory.body(options.batch);
          return request;
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    durationSeconds: result.duration,
  };
}
