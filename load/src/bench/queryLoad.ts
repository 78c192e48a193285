import { runHttpLoad } from './httpLoad.js';

export interface QueryResult {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
}

/**
 * Reads `GET /events?topic=<t>&after=<random seq>&limit=100` for `seconds` over 8 connections:
 * the paging query a consumer runs, at random places in a large store.
 */
export async function runQueries(url: string, topics: number, maxSeq: number, seconds: number): Promise<QueryResult> {
  const result = await runHttpLoad({
    url,
    method: 'GET',
    request: () => {
      const topic = `bench-${Math.floor(Math.random() * topics)}`;
      const after = Math.floor(Math.random() * Math.max(1, maxSeq - 1000));
      return { path: `/events?topic=${topic}&after=${after}&limit=100` };
    },
    durationSeconds: seconds,
    connections: 8,
  });
  return {
    requests: result.requests,
    errors: result.errors + result.non2xx + result.timeouts,
    p50: result.latencyP50,
    p99: result.latencyP99,
  };
}
