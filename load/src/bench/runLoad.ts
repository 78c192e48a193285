import autocannon from 'autocannon';
import type { EventFactory } from './eventFactory.js';
import { type HttpLoadResult, runHttpLoad } from './httpLoad.js';

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
  /** `lean` (the default): the benchmark's own generator; `autocannon`: to cross-check it. */
  client?: 'lean' | 'autocannon';
}

export type LoadResult = HttpLoadResult;

/** Sends `requests` publish requests and reports the generator's figures. */
export async function runLoad(factory: EventFactory, options: LoadOptions): Promise<LoadResult> {
  const { bodies } = options;
  const body = (i: number) => (bodies ? (bodies[i] as string) : factory.body(options.batch));
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
