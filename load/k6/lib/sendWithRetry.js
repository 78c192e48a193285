import { sleep } from 'k6';
import http from 'k6/http';

/**
 * One HTTP call with the retry policy of a well-behaved producer.
 *
 * - 429 (queue full) and 503 (Redis or store down) are the service's "retry later" answers: they
 *   are marked as expected responses, so `http_req_failed` counts only real failures, and they
 *   are retried after `Retry-After` (at least) with jittered exponential back-off.
 * - Network errors, timeouts and 502/504 (from a load balancer) are retried the same way.
 * - Anything else (4xx rejections, 500) is final: retrying a request the service refused would
 *   only repeat the refusal.
 * - A retry after a network error, a timeout, 502, 503 or 504 is *ambiguous*: the first attempt
 *   may have reached the queue (503 includes "Redis did not confirm the enqueue in time"), so the
 *   events may arrive twice. The service drops the second copy as a duplicate; the caller learns
 *   how many attempts were ambiguous so the teardown can allow for it. 429 is never ambiguous:
 *   the API refuses before enqueueing.
 */

// Module side effect, on purpose: every script that sends through here wants the same policy.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 429, 503));

const RETRYABLE = [0, 429, 502, 503, 504];
const AMBIGUOUS = [0, 502, 503, 504];
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5000;

/**
 * @typedef {object} HttpCall
 * @property {'GET' | 'POST'} method
 * @property {string} url
 * @property {string | null} [body] - JSON text
 * @property {string} name - the `name` tag, which groups the requests in metrics
 * @property {string} timeout - per-attempt timeout
 * @property {number} budgetMs - give up when the next retry would start later than this
 * @property {(res: import('k6/http').Response) => void} [onAttempt]
 */

/**
 * @typedef {object} CallOutcome
 * @property {import('k6/http').Response} res - the last response
 * @property {boolean} ok - answered 2xx
 * @property {number} attempts
 * @property {number} ambiguous - failed attempts that may nevertheless have been applied
 * @property {number} elapsedMs
 */

/**
 * Seconds in a `Retry-After` header (delta-seconds or an HTTP date), in milliseconds.
 * @param {string | undefined} header
 * @returns {number}
 */
export function retryAfterMs(header) {
  if (header === undefined) return 0;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/**
 * @param {HttpCall} call
 * @returns {CallOutcome}
 */
export function sendWithRetry(call) {
  const started = Date.now();
  /** @type {import('k6/http').Params} */
  const params = { timeout: call.timeout, tags: { name: call.name } };
  /** @type {Record<string, string>} */
  const headers = {};
  if (call.body != null) headers['Content-Type'] = 'application/json';
  // The service's optional bearer tokens: API_TOKEN for POST /publish, READ_TOKEN for the reads.
  const token = call.method === 'POST' ? __ENV.API_TOKEN : __ENV.READ_TOKEN;
  if (token) headers.Authorization = `Bearer ${token}`;
  params.headers = headers;
  let ambiguous = 0;
  for (let attempt = 1; ; attempt++) {
    const res = http.request(call.method, call.url, call.body ?? null, params);
    call.onAttempt?.(res);
    const ok = res.status >= 200 && res.status < 300;
    if (ok || !RETRYABLE.includes(res.status)) {
      return { res, ok, attempts: attempt, ambiguous, elapsedMs: Date.now() - started };
    }
    if (AMBIGUOUS.includes(res.status)) ambiguous++;
    const backoff = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    const waitMs = Math.max(retryAfterMs(res.headers['Retry-After']), backoff);
    if (Date.now() + waitMs - started > call.budgetMs) {
      return { res, ok: false, attempts: attempt, ambiguous, elapsedMs: Date.now() - started };
    }
    sleep(waitMs / 1000);
  }
}
