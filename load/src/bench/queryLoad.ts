import autocannon from 'autocannon';

export interface QueryResult {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
}

/**
 * Reads `GET /events?topic=<t>&after=<random seq>&limit=100` for `seconds` over `connections`:
 * the paging query a consumer runs, at random places in a large store.
 */
export async function runQueries(url: string, topics: number, maxSeq: number, seconds: number): Promise<QueryResult> {
  const result = await autocannon({
    url: `${url}/events`,
    connections: 8,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          const topic = `bench-${Math.floor(Math.random() * topics)}`;
          const after = Math.floor(Math.random() * Math.max(1, maxSeq - 1000));
          request.path = `/events?topic=${topic}&after=${after}&limit=100`;
          return request;
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}
