import { benchTopic } from './eventFactory.js';
import { runHttpLoad } from './httpLoad.js';

/** One kind of page, measured. */
export interface QueryFigures {
  requests: number;
  errors: number;
  pagesPerSecond: number;
  p50: number;
  p99: number;
}

export interface QueryResult {
  /** `?topic=<one topic>` pages. */
  exact: QueryFigures;
  /** `?topic_pattern=bench.g<k>.*` pages: four topics selected by the pattern's literal prefix. */
  pattern: QueryFigures;
  /** Of both. */
  errors: number;
}

async function measurePages(url: string, seconds: number, path: (after: number) => string, maxSeq: number) {
  const result = await runHttpLoad({
    url,
    method: 'GET',
    request: () => ({ path: path(Math.floor(Math.random() * Math.max(1, maxSeq - 1000))) }),
    durationSeconds: seconds,
    connections: 8,
  });
  return {
    requests: result.requests,
    errors: result.errors + result.non2xx + result.timeouts,
    pagesPerSecond: Math.round(result.requests / seconds),
    p50: result.latencyP50,
    p99: result.latencyP99,
  };
}

/**
 * The paging queries a consumer runs, at random places (`after`) in a large store, each kind for
 * `seconds` over 8 connections: `GET /events?topic=<t>&after=<random seq>&limit=100`, then
 * `GET /events?topic_pattern=bench.g<k>.*&after=<random seq>&limit=100`, after a warm-up of both.
 */
export async function runQueries(url: string, topics: number, maxSeq: number, seconds: number): Promise<QueryResult> {
  const groups = Math.ceil(topics / 4);
  const exactPage = (after: number) =>
    `/events?topic=${benchTopic(Math.floor(Math.random() * topics))}&after=${after}&limit=100`;
  const patternPage = (after: number) =>
    `/events?topic_pattern=bench.g${Math.floor(Math.random() * groups)}.*&after=${after}&limit=100`;
  // Unmeasured first: the kind measured first would otherwise also pay for warming the caches
  // (page cache, buffers) after the fill.
  const warmUp = Math.min(2, seconds);
  await measurePages(url, warmUp, exactPage, maxSeq);
  await measurePages(url, warmUp, patternPage, maxSeq);
  const exact = await measurePages(url, seconds, exactPage, maxSeq);
  const pattern = await measurePages(url, seconds, patternPage, maxSeq);
  return { exact, pattern, errors: exact.errors + pattern.errors };
}
