// The Docker HEALTHCHECK of the aggregator images: `node deploy/healthcheck.mjs api|worker`.
// Exits 0 when the process of this container is healthy, 1 when not (Docker's contract).
//
//   api     GET /healthz on this container's HOST and PORT answers 200: the process runs and its
//           event loop answers. Not /readyz: a Redis outage is not this replica's fault, and
//           marking every replica unhealthy for it would only add noise.
//   worker  this container's worker announced itself in Redis within the last 10 s, the rule by
//           which GET /stats counts live workers (common/src/liveness.ts, imported from there). A
//           worker whose event loop is stuck, or that cannot reach Redis, stops beating.
//
// Docker runs this every 10–15 s next to a service with a memory budget, so it must stay cheap:
// the api check loads node builtins only, the worker check adds ioredis and nothing else (not the
// app's @aggregator/common, which brings BullMQ, SQLite, pino, prom-client and zod: about 110 MB
// and a second of CPU per run). It reads the few variables it needs itself, with the defaults and
// the validation of common/src/config.ts; test/healthcheck.test.ts keeps the two in step.
import { request } from 'node:http';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';

const TIMEOUT_MS = 3000;

/**
 * The variables the checks read, as loadConfig() reads them: an empty value means unset, a number
 * is coerced with Number() and must be an integer in range, and each default is config.ts's.
 * @param {Record<string, string | undefined>} env
 */
/**
 * `host:port,host:port,…` as config.ts reads REDIS_CLUSTER_NODES: the seed nodes, undefined when
 * unset, null when malformed. A copy of the rule (the api check loads node builtins only):
 * test/healthcheck.test.ts holds the two to one verdict and one result on generated specs.
 * @param {string | undefined} spec
 */
function parseClusterNodes(spec) {
  if (spec === undefined) return undefined;
  const nodes = [];
  for (const node of spec.split(',')) {
    const match = /^\s*([^\s:[\]]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(node);
    if (!match || Number(match[2]) > 65_535) return null;
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) });
  }
  return nodes;
}

export function readCheckConfig(env = process.env) {
  const get = (name) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const problems = [];
  const validate = (name, ok, rule) => {
    if (!ok) problems.push(`✖ ${rule}\n  → at ${name}`);
  };
  const config = {
    host: get('HOST') ?? '127.0.0.1',
    port: Number(get('PORT') ?? 8080),
    redisUrl: get('REDIS_URL') ?? 'redis://127.0.0.1:6379',
    prefix: get('REDIS_PREFIX') ?? 'aggregator',
    replicaId: get('REPLICA_ID'),
    clusterNodes: parseClusterNodes(get('REDIS_CLUSTER_NODES')),
  };
  validate(
    'PORT',
    Number.isInteger(config.port) && config.port >= 0 && config.port <= 65535,
    'an integer from 0 to 65535',
  );
  validate(
    'REDIS_URL',
    /^rediss?:$/.test(URL.parse(config.redisUrl.trim())?.protocol ?? ''),
    'a redis:// or rediss:// URL',
  );
  validate('REDIS_PREFIX', /^[A-Za-z0-9_.-]{1,64}$/.test(config.prefix), 'use 1–64 letters, digits, "_", "." or "-"');
  validate('REPLICA_ID', config.replicaId === undefined || /^[\w.-]{1,128}$/.test(config.replicaId), 'a replica id');
  validate('REDIS_CLUSTER_NODES', config.clusterNodes !== null, 'write the seed nodes as host:port,host:port,…');
  if (problems.length > 0) throw new Error(`invalid configuration:\n${problems.join('\n')}`);
  return config;
}

/** @param {ReturnType<typeof readCheckConfig>} config */
function checkApi(config) {
  // An API listening on every interface is reached on loopback from inside its container.
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const where = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}/healthz`;
  return new Promise((resolve, reject) => {
    const req = request({ host, port: config.port, path: '/healthz', agent: false, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`GET ${where} answered ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${where} did not answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (error) => reject(new Error(`GET ${where} failed (${error.code ?? error.message})`)));
    req.end();
  });
}

/** @param {ReturnType<typeof readCheckConfig>} config */
async function checkWorker(config) {
  // Loaded here, so the api check never pays for it.
  const { Cluster, Redis } = await import('ioredis');
  const { createKeys } = await import('../common/dist/keys.js');
  const { WORKER_LIVENESS_MS } = await import('../common/dist/liveness.js');
  const options = {
    connectionName: 'healthcheck',
    connectTimeout: TIMEOUT_MS - 500,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  };
  // On a Redis Cluster (REDIS_URL is then ignored) the heartbeats live under the cluster's keys.
  const cluster = config.clusterNodes !== undefined;
  const redis = cluster
    ? new Cluster(config.clusterNodes, { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: options })
    : new Redis(config.redisUrl, options);
  let connectionError;
  redis.on('error', (error) => {
    connectionError = error;
  });
  try {
    await redis.connect().catch((error) => {
      const cause = connectionError ?? error;
      // Not the URL: it may hold a password.
      throw new Error(`cannot reach Redis (${cause.code ?? cause.message})`);
    });
    const workers = createKeys(config.prefix, { cluster }).workers;
    const live = await redis.zrangebyscore(workers, Date.now() - WORKER_LIVENESS_MS, '+inf');
    // An explicit REPLICA_ID names the worker; the default one is `<host name>-<pid>`, and the
    // host name of a container is its own.
    const mine = live.some((id) => id === config.replicaId || id.startsWith(`${hostname()}-`));
    if (!mine) throw new Error(`no heartbeat from this container's worker in the last ${WORKER_LIVENESS_MS} ms`);
  } finally {
    redis.disconnect();
  }
}

const checks = { api: checkApi, worker: checkWorker };

async function main(role) {
  // A check that hangs is a failed check; Docker's own --timeout is only the last resort.
  setTimeout(() => {
    process.stderr.write(`unhealthy: the ${role} check took more than ${TIMEOUT_MS} ms\n`);
    process.exit(1);
  }, TIMEOUT_MS).unref();
  try {
    if (!Object.hasOwn(checks, role)) throw new Error(`usage: healthcheck.mjs ${Object.keys(checks).join('|')}`);
    await checks[role](readCheckConfig());
    process.exit(0);
  } catch (thrown) {
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    process.stderr.write(`unhealthy: ${message}\n`);
    process.exit(1);
  }
}

// Run as a program; imported (by the test that keeps readCheckConfig in step), only export.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv[2]);
