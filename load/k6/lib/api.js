import { sleep } from 'k6';
import { sendWithRetry } from './sendWithRetry.js';

/**
 * The read side of the aggregator API as setup() and teardown() use it: `/stats` and `/events`.
 * Replies are validated, so a changed API fails loudly here rather than as a wrong count.
 */

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {number}
 */
function count(value, what) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`GET /stats: ${what} is ${JSON.stringify(value)}, not a count`);
  }
  return value;
}

/**
 * @param {unknown} value
 * @returns {{ [key: string]: unknown }}
 */
function object(value) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got ${JSON.stringify(value)}`);
  }
  return /** @type {{ [key: string]: unknown }} */ (value);
}

/**
 * @param {import('./types.js').Settings} settings
 * @param {string} path
 * @param {string} name
 * @returns {import('k6/http').Response}
 */
function get(settings, path, name) {
  const { res, ok } = sendWithRetry({
    method: 'GET',
    url: `${settings.baseUrl}${path}`,
    name,
    timeout: settings.requestTimeout,
    budgetMs: settings.retryBudgetMs,
  });
  if (!ok) throw new Error(`GET ${path} failed: status ${res.status} ${res.error} ${String(res.body).slice(0, 300)}`);
  return res;
}

/**
 * @param {import('./types.js').Settings} settings
 * @returns {import('./types.js').Stats}
 */
export function readStats(settings) {
  const body = object(get(settings, '/stats', 'stats').json());
  const queue = object(body.queue);
  const topics = body.topics;
  if (!Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) {
    throw new Error(`GET /stats: topics is ${JSON.stringify(topics)}, not a list of strings`);
  }
  return {
    received: count(body.received, 'received'),
    unique_processed: count(body.unique_processed, 'unique_processed'),
    duplicate_dropped: count(body.duplicate_dropped, 'duplicate_dropped'),
    topics,
    uptime_seconds: count(body.uptime_seconds, 'uptime_seconds'),
    queue: {
      waiting: count(queue.waiting, 'queue.waiting'),
      active: count(queue.active, 'queue.active'),
      delayed: count(queue.delayed, 'queue.delayed'),
      failed: count(queue.failed, 'queue.failed'),
    },
    workers: count(body.workers, 'workers'),
  };
}

/**
 * @param {import('./types.js').Stats} stats
 * @returns {import('./types.js').Counters}
 */
export function countersOf(stats) {
  return {
    received: stats.received,
    unique_processed: stats.unique_processed,
    duplicate_dropped: stats.duplicate_dropped,
    failed: stats.queue.failed,
  };
}

/**
 * @param {import('./types.js').Stats} a
 * @param {import('./types.js').Stats} b
 */
function sameCounters(a, b) {
  return (
    a.received === b.received &&
    a.unique_processed === b.unique_processed &&
    a.duplicate_dropped === b.duplicate_dropped &&
    a.queue.failed === b.queue.failed
  );
}

/**
 * Polls `/stats` until the queue is idle (nothing waiting, active or delayed) in two consecutive
 * reads with the same counters, or DRAIN_TIMEOUT passes. Every acknowledged event is in the
 * queue before its 200, and a job leaves "active" only after its counters are published, so an
 * idle queue means the counters include every acknowledged event; the second read guards
 * against `/stats` reading the counters and the job counts at slightly different moments.
 *
 * @param {import('./types.js').Settings} settings
 * @returns {{ stats: import('./types.js').Stats, idle: boolean, waitedMs: number }}
 */
export function waitForIdleQueue(settings) {
  const started = Date.now();
  /** @type {import('./types.js').Stats | undefined} */
  let previous;
  for (;;) {
    const stats = readStats(settings);
    const { waiting, active, delayed } = stats.queue;
    const idle = waiting + active + delayed === 0;
    if (idle && previous !== undefined && sameCounters(previous, stats)) {
      return { stats, idle: true, waitedMs: Date.now() - started };
    }
    if (Date.now() - started > settings.drainTimeoutMs) return { stats, idle: false, waitedMs: Date.now() - started };
    previous = idle ? stats : undefined;
    sleep(settings.pollMs / 1000);
  }
}

/**
 * @param {unknown} value
 * @returns {import('./types.js').StoredEvent}
 */
function storedEvent(value) {
  const row = object(value);
  const { topic, event_id, timestamp, source, seq } = row;
  if (
    typeof topic !== 'string' ||
    typeof event_id !== 'string' ||
    typeof timestamp !== 'string' ||
    typeof source !== 'string' ||
    typeof seq !== 'number'
  ) {
    throw new Error(`GET /events: malformed row ${JSON.stringify(value).slice(0, 300)}`);
  }
  const payload = /** @type {import('./types.js').Event['payload']} */ (object(row.payload));
  return { topic, event_id, timestamp, source, payload, seq };
}

/**
 * Calls `visit` with every stored event of `topic`, following the `Link: <…>; rel="next"` pages
 * of `GET /events` (1000 rows each, the maximum).
 *
 * @param {import('./types.js').Settings} settings
 * @param {string} topic
 * @param {(event: import('./types.js').StoredEvent) => void} visit
 * @returns {number} how many events were visited
 */
export function forEachStoredEvent(settings, topic, visit) {
  let path = `/events?topic=${encodeURIComponent(topic)}&limit=1000`;
  let visited = 0;
  for (;;) {
    const res = get(settings, path, 'events');
    // JSON.parse, not res.json(): k6 builds res.json()'s objects from Go maps, whose keys come
    // out of JSON.stringify in random order, and the payload's key order is part of what the
    // service promises to keep.
    const rows = JSON.parse(String(res.body));
    if (!Array.isArray(rows)) throw new Error(`GET ${path}: expected a JSON array`);
    for (const row of rows) {
      visit(storedEvent(row));
      visited++;
    }
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.Link ?? '')?.[1];
    if (next === undefined) return visited;
    // The link is relative to the API root; keep only its path and query.
    path = next.replace(/^https?:\/\/[^/]+/, '');
  }
}
