import { type Connection, publishBody } from '@aggregator/client';
import autocannon from 'autocannon';
import type { EventFactory } from './eventFactory.js';
import { type HttpLoadResult, runHttpLoad } from './httpLoad.js';
import { percentile } from './measure.js';

export interface LoadOptions {
  url: string;
  /** Requests to send. */
  requests: number;
  /** Events per request. */
  batch: number;
  connections: number;
  /** Requests per second over all connections; unlimited when absent. */
  rate?: number;
  /** Bodies built beforehand (request i sends `bodies[i]`); built one by one as they are sent when absent. */
  bodies?: readonly string[];
  /**
   * `lean` (the default): the benchmark's own generator; `autocannon`: to cross-check it;
   * `aggregator`: @aggregator/client, as a producer would publish (retries included).
   */
  client?: 'lean' | 'autocannon' | 'aggregator';
}

export type LoadResult = HttpLoadResult;

/** Sends `requests` publish requests and reports the generator's figures. */
export async function runLoad(factory: EventFactory, options: LoadOptions): Promise<LoadResult> {
  const { bodies } = options;
  const body = (i: number) => (bodies ? (bodies[i] as string) : factory.body(options.batch));
  if (options.client === 'aggregator') return runClientLoad(body, options);
  if (options.client !== 'autocannon') {
    return runHttpLoad({
      url: options.url,
      method: 'POST',
      request: (i) => ({ path: '/publish', body: body(i) }),
      requests: options.requests,
      connections: options.connections,
      rate: options.rate,
    });
  }
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
          request.body = body(next++);
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

/**
 * The load through @aggregator/client's `publishBody`: `connections` loops, each publishing one
 * request at a time and retrying it as the client does. Costs more CPU in this process than the
 * lean generator (fetch, its promises), which is why the measured modes default to the lean one.
 */
async function runClientLoad(body: (i: number) => string, options: LoadOptions): Promise<LoadResult> {
  const connection: Connection = {
    url: options.url,
    fetch: (input, init) => fetch(input, init),
    requestTimeoutMs: 30_000,
  };
  const policy = { maxRetryMs: 60_000, baseDelayMs: 50, maxDelayMs: 2_000, maxRetryAfterMs: 5_000 };
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const loop = async () => {
    for (let i = next++; i < options.requests; i = next++) {
      try {
        const result = await publishBody(connection, body(i), options.batch, {
          policy,
          // A retry the service refused before enqueueing (429, a refused connection) changes no
          // counter; one after an unknown outcome may add duplicates, so it spoils the exact check.
          onRetry: (notice) => {
            if (notice.outcome.uncertain) errors++;
          },
        });
        latencies.push(result.latencyMs);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    non2xx: 0,
    errors,
    timeouts: 0,
    latencyP50: percentile(latencies, 50),
    latencyP99: percentile(latencies, 99),
    durationSeconds: (performance.now() - started) / 1000,
  };
}
