/**
 * Types shared by the k6 scripts, as JSDoc so that plain `k6 run` needs no build step while
 * `tsc -p load/k6` still checks every script.
 *
 * Glossary
 * - run: one `k6 run`; `setup()` names it with a fresh `runId`, and every event it sends carries it.
 * - slot: the number of one main event of the run. Iteration `g` (k6's `exec.scenario.iterationInTest`)
 *   owns slots `g*B … g*B+B-1`, where B is the batch size, so the slots of N iterations are exactly
 *   `0 … N*B-1`.
 * - fresh slot: a slot that sends its own new event `(k6-<run>-t<i>, <run>-<slot>)`.
 * - duplicate slot: a slot that re-sends the event of an earlier fresh slot instead. Which slots are
 *   duplicates is a pure function of the slot number and DUP_RATIO, so the teardown can compute it.
 * - acknowledged: answered 200 by `POST /publish`, i.e. in the queue.
 * - ambiguous attempt: a publish attempt that failed in a way that may still have enqueued the
 *   events (network error, timeout, 502/503/504); retrying it can deliver the events twice.
 * - ledger: per-run topic `k6-<run>-ledger` where a VU records how many events an ambiguous attempt
 *   may have delivered twice, so the teardown can bound the redelivered count.
 */

/**
 * Every setting a script reads from `__ENV` besides its executor options.
 * @typedef {object} Settings
 * @property {string} baseUrl - BASE_URL without a trailing slash.
 * @property {number} batchSize - BATCH_SIZE: events per publish request.
 * @property {number} dupRatio - DUP_RATIO: share of slots that re-send an earlier event, 0 ≤ r ≤ 0.9.
 * @property {number} dupScaled - `round(dupRatio * RATIO_SCALE)`: the ratio as an exact integer.
 * @property {number} topics - TOPICS: how many topics the run's events are spread over.
 * @property {number} payloadBytes - PAYLOAD_BYTES: length of the filler string in each payload.
 * @property {string} requestTimeout - REQUEST_TIMEOUT: per-request timeout (k6 duration).
 * @property {number} retryBudgetMs - RETRY_BUDGET: longest time one publish may spend retrying.
 * @property {number} drainTimeoutMs - DRAIN_TIMEOUT: longest wait for the queue to drain.
 * @property {number} pollMs - POLL_INTERVAL: pause between two `/stats` reads while draining.
 * @property {string} setupTimeout - k6 `setupTimeout`, derived from DRAIN_TIMEOUT.
 * @property {string} teardownTimeout - TEARDOWN_TIMEOUT: k6 `teardownTimeout`.
 * @property {string} gracefulStop - k6 scenario `gracefulStop`, long enough for a retrying iteration.
 * @property {number} p95Ms - P95_MS: threshold on the p(95) publish request duration.
 * @property {number} p99Ms - P99_MS: threshold on the p(99) publish request duration.
 * @property {number} maxFailedRate - MAX_FAILED_RATE: threshold on `http_req_failed`.
 * @property {number} maxThrottledRate - MAX_THROTTLED_RATE: threshold on `publish_throttled`.
 */

/**
 * Defaults a script may override before the environment is read.
 * @typedef {object} SettingDefaults
 * @property {number} [batchSize]
 * @property {boolean} [batchSizeFixed] - ignore BATCH_SIZE (single.js is one event per request by definition)
 * @property {number} [dupRatio]
 * @property {number} [p95Ms]
 * @property {number} [p99Ms]
 */

/**
 * One event as `POST /publish` takes it.
 * @typedef {object} Event
 * @property {string} topic
 * @property {string} event_id
 * @property {string} timestamp
 * @property {string} source
 * @property {{ [key: string]: string | number }} payload
 */

/**
 * One row of `GET /events`.
 * @typedef {Event & { seq: number }} StoredEvent
 */

/**
 * The counters of `GET /stats` that the checks compare.
 * @typedef {object} Counters
 * @property {number} received
 * @property {number} unique_processed
 * @property {number} duplicate_dropped
 * @property {number} failed - `queue.failed`: failed jobs BullMQ still holds.
 */

/**
 * `GET /stats`.
 * @typedef {object} Stats
 * @property {number} received
 * @property {number} unique_processed
 * @property {number} duplicate_dropped
 * @property {string[]} topics
 * @property {number} uptime_seconds
 * @property {{ waiting: number, active: number, delayed: number, failed: number }} queue
 * @property {number} workers
 */

/**
 * What `setup()` hands every VU and the teardown (k6 passes it as JSON).
 * @typedef {object} RunData
 * @property {string} runId - Names the run's topics and event ids.
 * @property {number} startedAtMs - Base of the events' timestamps.
 * @property {Counters} baseline - `/stats` counters before the load, read with the queue idle.
 */

export {};
