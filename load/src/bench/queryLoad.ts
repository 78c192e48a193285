import { Client } from '@aggregator/client';
import { parseTopicPattern } from '@aggregator/common';
import type { EventStoreReader } from '@aggregator/store';
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
  /** Of both, and of the read through the client. */
  errors: number;
  /** One pattern read whole through @aggregator/client, as a consumer would, checked against the store. */
  clientRead: ClientRead;
}

/** What `readThroughClient` found. */
export interface ClientRead {
  pattern: string;
  events: number;
  pages: number;
  /** Every event the store's topic stats count for the pattern, once each, in seq order. */
  exact: boolean;
}

/**
 * Reads every event of `pattern` through the client's `pages()` (following `Link`), and checks the
 * count against the store's own topic stats and the order of the seqs: the benchmark's consumer
 * side, correctness only (the measured pages above use the lean generator).
 */
export async function readThroughClient(url: string, store: EventStoreReader, pattern: string): Promise<ClientRead> {
  const client = new Client({ url });
  let events = 0;
  let pages = 0;
  let last = 0;
  let ordered = true;
  for await (const page of client.pages({ topicPattern: pattern, limit: 1000 })) {
    pages++;
    for (const event of page) {
      if (event.seq <= last) ordered = false;
      last = event.seq;
      events++;
    }
  }
  const stats = await store.listTopicStats({ topicPattern: parseTopicPattern(pattern), limit: 1000 });
  const expected = stats.reduce((sum, topic) => sum + topic.events, 0);
  return { pattern, events, pages, exact: ordered && events === expected };
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
export async function runQueries(
  url: string,
  store: EventStoreReader,
  topics: number,
  maxSeq: number,
  seconds: number,
): Promise<QueryResult> {
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
  const clientRead = await readThroughClient(url, store, 'bench.g0.*');
  return { exact, pattern, clientRead, errors: exact.errors + pattern.errors + (clientRead.exact ? 0 : 1) };
}
