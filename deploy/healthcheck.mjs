// The Docker HEALTHCHECK of the aggregator images: `node deploy/healthcheck.mjs api|worker`.
// Exits 0 when the process of this container is healthy, 1 when not (Docker's contract). It reads
// the container's configuration the way the process does (loadConfig), so it checks the same
// port, Redis and key prefix.
//
//   api     GET /healthz on this container's PORT answers 200: the process runs and its event
//           loop answers. Not /readyz: a Redis outage is not this replica's fault, and marking
//           every replica unhealthy for it would only add noise.
//   worker  this container's worker announced itself in Redis within the last 10 s, the rule by
//           which GET /stats counts live workers (worker/src/heartbeat.ts beats every 2 s). A
//           worker whose event loop is stuck, or that cannot reach Redis, stops beating.
import { hostname } from 'node:os';
import { coerceError, createKeys, createRedis, loadConfig, quitRedis, waitReady } from '@aggregator/common';

const TIMEOUT_MS = 3000;
const WORKER_LIVENESS_MS = 10_000;

/** @param {import('@aggregator/common').Config} config */
async function checkApi(config) {
  // The API listens on all interfaces by default; loopback reaches it from inside the container.
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = new URL(`http://${host}:${config.PORT}/healthz`);
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
}

/** @param {import('@aggregator/common').Config} config */
async function checkWorker(config) {
  const redis = createRedis(config.REDIS_URL, 'request', 'healthcheck');
  redis.on('error', () => undefined);
  try {
    await waitReady(redis, TIMEOUT_MS - 500);
    const live = await redis.zrangebyscore(
      createKeys(config.REDIS_PREFIX).workers,
      Date.now() - WORKER_LIVENESS_MS,
      '+inf',
    );
    // An explicit REPLICA_ID names the worker; the default one is `<host name>-<pid>`, and the
    // host name of a container is its own.
    const mine = live.some((id) => id === config.REPLICA_ID || id.startsWith(`${hostname()}-`));
    if (!mine) throw new Error(`no heartbeat from this container's worker in the last ${WORKER_LIVENESS_MS} ms`);
  } finally {
    await quitRedis(redis);
  }
}

const checks = { api: checkApi, worker: checkWorker };
const role = process.argv[2];

// A check that hangs is a failed check; Docker's own --timeout is only the last resort.
setTimeout(() => {
  process.stderr.write(`unhealthy: the ${role} check took more than ${TIMEOUT_MS} ms\n`);
  process.exit(1);
}, TIMEOUT_MS).unref();

try {
  if (!Object.hasOwn(checks, role)) throw new Error(`usage: healthcheck.mjs ${Object.keys(checks).join('|')}`);
  await checks[role](loadConfig());
  process.exit(0);
} catch (thrown) {
  const error = coerceError(thrown);
  // fetch() says only "fetch failed"; the reason (ECONNREFUSED, …) is its cause.
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  process.stderr.write(`unhealthy: ${error.message}${cause}\n`);
  process.exit(1);
}
