import { renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { API_NODE_FLAGS } from '@aggregator/api';
import { ENTRYPOINTS, type ManagedChild, REPO_ROOT, redisServerBinary } from '@aggregator/stack';
import { type AccessLogEntry, haproxyArgs, LB_CONFIG_PATH, parseAccessLog } from './haproxy.js';
import type { DnsRecords } from './netns/dnsAnswer.js';
import { forwardingServer } from './netns/forwardingServer.js';
import { linkNetns, type Netns, withNetns } from './netns/netns.js';
import { HAPROXY } from './tools.js';
import { waitUntil } from './waitUntil.js';
import { withTempDir } from './withStack.js';

/**
 * The compose topology of docker-compose.yml, without Docker, in two network namespaces of the
 * test's own linked as one network, 10.89.0.0/24:
 *
 *   lb    (10.89.0.1)  the real haproxy running deploy/haproxy.cfg, unchanged: it listens on
 *                      :8080 and asks 127.0.0.11:53, where a stand-in for Docker's embedded DNS
 *                      resolves the service name `api` to the replicas' addresses;
 *   apps  (10.89.0.x)  each API replica (the real entrypoint) on `<its address>:8080`, a worker,
 *                      and a redis-server on the namespace's own 127.0.0.1.
 *
 * Two namespaces, as two containers have: the lb's `bind :8080` takes every address of its
 * namespace, so no replica could listen on port 8080 beside it. The lb's published port reaches
 * the host as `url`, through a Unix socket: no host interface or route is touched. Everything is
 * stopped, and the namespaces deleted, when `fn` ends.
 */

/** The port the API replicas and the lb listen on inside the compose network. */
export const SERVICE_PORT = 8080;
/** The network's prefix: the lb is `.1`; replicas take any other address of it. */
export const NETWORK = '10.89.0';
/** The name the lb resolves (the compose service of the API). */
export const API_SERVICE = 'api';

export type FakeReplicaMode = 'drop' | 'hang';

export interface ComposeNetwork {
  /** `http://127.0.0.1:<port>`: the lb's published port, as a client on the host reaches it. */
  readonly url: string;
  readonly lb: ManagedChild;
  /** The API replica (real entrypoint) at each address. */
  readonly apis: Map<string, ManagedChild>;
  /** The access log so far: one entry per finished request. */
  accessLog(): AccessLogEntry[];
  /** Sets what `api` resolves to, as Docker does when replicas start and stop. */
  resolveApiTo(addresses: string[]): void;
  /** Starts an API replica listening on `address`:8080 (an address of NETWORK; not added to DNS). */
  startApi(address: string): Promise<ManagedChild>;
  /** Starts a replica that fails as `mode` says on `address`:8080 (test/support/netns/fakeReplica.ts). */
  startFakeReplica(address: string, mode: FakeReplicaMode): Promise<ManagedChild>;
  /** Sends GET /healthz through the lb until each of `addresses` has answered one. */
  waitForRotation(addresses: string[]): Promise<void>;
}

export interface ComposeNetworkOptions {
  /** Addresses of the API replicas started at the outset, and what `api` resolves to. */
  apis: string[];
}

const SUPPORT_DIR = join(REPO_ROOT, 'test', 'support', 'netns');
/** How long a process or the lb may take to come up: generous, for a machine under load. */
const STARTUP_MS = 45_000;

function replicaName(address: string): string {
  return `api-${address.replaceAll('.', '-')}`;
}

interface Bridge {
  port: number;
  close(): Promise<void>;
}

/** A TCP listener on 127.0.0.1 whose every connection is piped to the Unix socket `path`. */
async function bridgeTo(path: string): Promise<Bridge> {
  const { server, close } = forwardingServer(() => connect(path));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, close };
}

export async function withComposeNetwork<T>(
  options: ComposeNetworkOptions,
  fn: (network: ComposeNetwork) => Promise<T>,
): Promise<T> {
  const haproxy = HAPROXY.find(process.env);
  if (!haproxy) throw new Error(HAPROXY.problem(process.env));
  return withTempDir((dir) =>
    withNetns((lbNs) =>
      withNetns(async (appsNs) => {
        const children: ManagedChild[] = [];
        let bridge: Bridge | undefined;
        try {
          linkNetns(lbNs, appsNs, `${NETWORK}.1/24`, `${NETWORK}.254/24`);
          const network = await startNetwork({ dir, haproxy, lbNs, appsNs, children, apis: options.apis });
          bridge = network.bridge;
          return await fn(network);
        } finally {
          await bridge?.close();
          // The lb first (no new requests), the store's users before Redis, the DNS last.
          for (const child of children.reverse()) await child.stop();
        }
      }),
    ),
  );
}

interface Namespaces {
  dir: string;
  haproxy: string;
  lbNs: Netns;
  appsNs: Netns;
  /** Every process started, in order; the caller stops them. */
  children: ManagedChild[];
  apis: string[];
}

async function startNetwork(ns: Namespaces): Promise<ComposeNetwork & { bridge: Bridge }> {
  const { dir, lbNs, appsNs, children } = ns;
  const started = (child: ManagedChild) => {
    children.push(child);
    return child;
  };
  const claimed = new Set<string>();
  /** The apps namespace answers on `address` from now on. */
  const claim = (address: string) => {
    if (!address.startsWith(`${NETWORK}.`)) throw new Error(`${address} is not in ${NETWORK}.0/24`);
    if (!claimed.has(address)) appsNs.addAddress(`${address}/24`);
    claimed.add(address);
  };
  const recordsPath = join(dir, 'dns.json');
  const resolveApiTo = (addresses: string[]) => {
    const records: DnsRecords = addresses.length > 0 ? { [API_SERVICE]: addresses } : {};
    // Whole or not at all: the DNS stand-in reads the file on every query.
    writeFileSync(`${recordsPath}.next`, JSON.stringify(records));
    renameSync(`${recordsPath}.next`, recordsPath);
  };
  const appEnv = {
    ...process.env,
    LOG_LEVEL: 'info',
    REDIS_URL: 'redis://127.0.0.1:6379',
    SQLITE_PATH: join(dir, 'aggregator.db'),
    JOB_BACKOFF_MS: '50',
  };
  const apis = new Map<string, ManagedChild>();
  const startApi = async (address: string) => {
    claim(address);
    const child = started(
      appsNs.spawn({
        name: replicaName(address),
        command: process.execPath,
        args: [...API_NODE_FLAGS, ENTRYPOINTS.api],
        env: { ...appEnv, HOST: address, PORT: String(SERVICE_PORT), REPLICA_ID: replicaName(address) },
      }),
    );
    apis.set(address, child);
    await child.waitFor(/"api listening"/, STARTUP_MS);
    return child;
  };
  const startFakeReplica = async (address: string, mode: FakeReplicaMode) => {
    claim(address);
    const child = started(
      appsNs.spawn({
        name: `fake-${mode}-${address}`,
        command: process.execPath,
        args: ['--import', 'tsx', join(SUPPORT_DIR, 'fakeReplica.ts'), address, String(SERVICE_PORT), mode],
        cwd: REPO_ROOT,
      }),
    );
    await child.waitFor(/^listening$/, STARTUP_MS);
    return child;
  };

  resolveApiTo(ns.apis);
  const publishedSocket = join(dir, 'lb.sock');
  const standIn = started(
    lbNs.spawn({
      name: 'docker-stand-in',
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        join(SUPPORT_DIR, 'dockerStandIn.ts'),
        recordsPath,
        publishedSocket,
        `127.0.0.1:${SERVICE_PORT}`,
      ],
      cwd: REPO_ROOT,
    }),
  );
  const redis = started(
    appsNs.spawn({
      name: 'redis',
      command: redisServerBinary(),
      args: ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    }),
  );
  await Promise.all([standIn.waitFor(/^ready$/, STARTUP_MS), redis.waitFor(/Ready to accept connections/, STARTUP_MS)]);
  // The worker creates the store; then the replicas, as compose starts them.
  const worker = started(
    appsNs.spawn({
      name: 'worker',
      command: process.execPath,
      args: [ENTRYPOINTS.worker],
      env: { ...appEnv, REPLICA_ID: 'worker-0' },
    }),
  );
  await worker.waitFor(/"worker started"/, STARTUP_MS);
  await Promise.all(ns.apis.map(startApi));

  const lb = started(lbNs.spawn({ name: 'lb', command: ns.haproxy, args: haproxyArgs(LB_CONFIG_PATH), cwd: dir }));
  const bridge = await bridgeTo(publishedSocket);
  const url = `http://127.0.0.1:${bridge.port}`;
  // Up once it answers at all (a 503 before the first DNS answer counts). Each probe has its own
  // timeout, so a request that hangs cannot outlast the wait's deadline.
  await waitUntil(
    async () => {
      if (!lb.running) throw new Error(`haproxy exited:\n${lb.tail()}`);
      await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).arrayBuffer();
      return true;
    },
    { what: 'haproxy to answer on the published port', timeoutMs: STARTUP_MS },
  );
  const accessLog = () => parseAccessLog(lb.lines);
  const waitForRotation = async (addresses: string[]) => {
    const wanted = addresses.map((a) => `${a}:${SERVICE_PORT}`);
    await waitUntil(
      async () => {
        await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).arrayBuffer();
        const served = new Set(accessLog().map((e) => e.server));
        return wanted.every((w) => served.has(w));
      },
      { what: `${wanted.join(', ')} to serve through the lb`, timeoutMs: STARTUP_MS },
    );
  };
  await waitForRotation(ns.apis);
  return { url, lb, apis, accessLog, resolveApiTo, startApi, startFakeReplica, waitForRotation, bridge };
}
