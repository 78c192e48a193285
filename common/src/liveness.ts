/**
 * When a worker counts as live: it beats (adds itself to the `workers` sorted set) every
 * `HEARTBEAT_MS`, and is live while its last beat is younger than `WORKER_LIVENESS_MS`, five beats.
 * `GET /stats` and the `aggregator_workers` gauge count by this rule, and so does the worker image's
 * Docker health check, which imports this module alone from common/dist (deploy/healthcheck.mjs):
 * it must import nothing.
 */

/** How often a worker announces itself (worker/src/heartbeat.ts). */
export const HEARTBEAT_MS = 2000;

/** A worker is live while its heartbeat is younger than this. */
export const WORKER_LIVENESS_MS = 5 * HEARTBEAT_MS;
