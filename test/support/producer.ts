import { setTimeout as sleep } from 'node:timers/promises';
import type { Event } from '@aggregator/common';
import { parseRetryAfter, type RetryPolicy, retryDelay } from '@aggregator/load';

/** The identity of an event, as a string for sets. */
export function pairKey(e: { topic: string; event_id: string }): string {
  return JSON.stringify([e.topic, e.event_id]);
}

/** Hands out request bodies; `EventSource` from '@aggregator/load' fits. */
export interface BatchSource<B extends { events: Event[] }> {
  next(): B | undefined;
  acknowledge?(batch: B): void;
}

export interface ProducerOptions<B extends { events: Event[] }> {
  /** API addresses; each attempt goes to the next one (read at every attempt). */
  urls: readonly string[];
  source: BatchSource<B>;
  /** Requests in flight at once. */
  concurrency: number;
  /** Overall pace in events per second; unlimited when absent. */
  eventsPerSecond?: number;
  /** Stops handing out new batches; requests already started are still retried to a 200. */
  stop?: AbortSignal;
  requestTimeoutMs?: number;
  policy?: RetryPolicy;
  /** Called with the events of every acknowledged request. */
  onAcknowledged?: (events: Event[]) => void;
  /** Called on every reply that refused a request (429 or 5xx), with its `Retry-After` header. */
  onRefused?: (status: number, retryAfter: string | null) => void;
  /** Kept up to date with the attempts in flight per address (to strike a replica while it is busy). */
  inFlight?: Map<string, number>;
  /**
   * Awaited before each batch is handed out, with the events handed out so far: lets a test follow
   * the load's progress and hold it at a point until something has happened.
   */
  beforeBatch?: (handedOut: number) => Promise<void>;
}

/** What a producer sent, in the terms an at-least-once producer can know. */
export interface ProducerReport {
  /** Requests acknowledged with 200 (every request that was started is retried until then). */
  requests: number;
  attempts: number;
  retries: number;
  retriesByReason: Record<string, number>;
  /** Events in acknowledged requests: each was enqueued exactly once by its successful attempt. */
  ackedEvents: number;
  /** Events in failed attempts that may have been enqueued all the same (no reply, or a 5xx). */
  uncertainEvents: number;
  /** Distinct pairs of every attempt made, and of the acknowledged ones. */
  sentPairs: Set<string>;
  ackedPairs: Set<string>;
}

const POLICY: RetryPolicy = { maxRetryMs: 60_000, baseDelayMs: 50, maxDelayMs: 1000, maxRetryAfterMs: 1000 };

type Attempt = { ok: true } | { ok: false; reason: string; detail: string; uncertain: boolean; retryAfterMs?: number };

/** One POST, classified as an at-least-once producer must see it. */
async function attempt(
  url: string,
  body: string,
  timeoutMs: number,
  expected: number,
  onRefused: ProducerOptions<{ events: Event[] }>['onRefused'],
): Promise<Attempt> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${url}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (thrown: unknown) {
    const code = String((thrown as { cause?: { code?: unknown } }).cause?.code ?? (thrown as Error).name);
    // A refused connection never carried the request; any other failure may have reached the queue.
    return { ok: false, reason: code, detail: String(thrown), uncertain: code !== 'ECONNREFUSED' };
  }
  if (res.status === 200) {
    const accepted = (JSON.parse(text) as { accepted?: unknown }).accepted;
    if (accepted !== expected) throw new Error(`${url}/publish accepted ${String(accepted)} of ${expected}`);
    return { ok: true };
  }
  if (res.status === 429 || res.status >= 500) {
    onRefused?.(res.status, res.headers.get('retry-after'));
    return {
      ok: false,
      reason: String(res.status),
      detail: text.slice(0, 200),
      // A 429 refuses before enqueueing; a 5xx may come after Redis took the jobs too late.
      uncertain: res.status !== 429,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
    };
  }
  throw new Error(`${url}/publish answered ${res.status}: ${text.slice(0, 500)}`);
}

/**
 * A producer as a real client runs one: `concurrency` loops take batches from `source`, round-robin
 * over `urls`, and retry a request until it gets its 200 (no reply, 429 and 5xx are retried with
 * jittered backoff, on the next address). Resolves when the source is exhausted or `stop` aborts and
 * every started request is acknowledged; rejects on a permanent error or an exhausted retry budget.
 */
export async function produce<B extends { events: Event[] }>(options: ProducerOptions<B>): Promise<ProducerReport> {
  const policy = options.policy ?? POLICY;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const report: ProducerReport = {
    requests: 0,
    attempts: 0,
    retries: 0,
    retriesByReason: {},
    ackedEvents: 0,
    uncertainEvents: 0,
    sentPairs: new Set(),
    ackedPairs: new Set(),
  };
  const started = performance.now();
  let handedOut = 0;
  let turn = 0;
  let failed = false;

  const loop = async (offset: number) => {
    for (;;) {
      if (options.stop?.aborted || failed) return;
      await options.beforeBatch?.(handedOut);
      if (options.stop?.aborted || failed) return;
      const batch = options.source.next();
      if (!batch) return;
      if (options.eventsPerSecond) {
        const due = started + (handedOut / options.eventsPerSecond) * 1000;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      handedOut += batch.events.length;
      for (const e of batch.events) report.sentPairs.add(pairKey(e));
      const body = JSON.stringify(batch.events);
      const first = performance.now();
      for (let retry = 0; ; retry++) {
        const urls = options.urls;
        const url = urls[(offset + turn++) % urls.length] as string;
        report.attempts++;
        const inFlight = options.inFlight;
        inFlight?.set(url, (inFlight.get(url) ?? 0) + 1);
        const outcome = await attempt(url, body, timeoutMs, batch.events.length, options.onRefused).finally(() =>
          inFlight?.set(url, (inFlight.get(url) ?? 1) - 1),
        );
        if (outcome.ok) break;
        if (failed) return;
        if (performance.now() - first > policy.maxRetryMs) {
          throw new Error(`a request still failed after ${retry + 1} attempts: ${outcome.reason} ${outcome.detail}`);
        }
        report.retries++;
        report.retriesByReason[outcome.reason] = (report.retriesByReason[outcome.reason] ?? 0) + 1;
        if (outcome.uncertain) report.uncertainEvents += batch.events.length;
        await sleep(retryDelay(policy, retry, outcome.retryAfterMs));
      }
      report.requests++;
      report.ackedEvents += batch.events.length;
      for (const e of batch.events) report.ackedPairs.add(pairKey(e));
      options.source.acknowledge?.(batch);
      options.onAcknowledged?.(batch.events);
    }
  };

  // The first failure stops the other loops, so nothing keeps sending after the caller gave up.
  const results = await Promise.allSettled(
    Array.from({ length: options.concurrency }, (_, i) =>
      loop(i).catch((e: unknown) => {
        failed = true;
        throw e;
      }),
    ),
  );
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
  return report;
}
