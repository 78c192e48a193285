import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManagedChild } from './childProcess.js';
import { freePort } from './freePort.js';
import { redisServerBinary } from './redisServer.js';

const run = promisify(execFile);

/** One redis-server of a private cluster. */
export interface ClusterNodeProcess {
  readonly port: number;
  readonly child: ManagedChild;
}

export interface RedisClusterOptions {
  /** Each node keeps its AOF and `nodes.conf` in `<dir>/<port>`. */
  dir: string;
  /** Masters (3 by default: `redis-cli --cluster create` wants at least 3). */
  masters?: number;
  /** Replicas of each master (1 by default). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout` in ms: how long before a silent master is failed over (2,000 by default). */
  nodeTimeoutMs?: number;
  echo?: boolean;
  /** Redis's own `loglevel`; `notice` by default. */
  logLevel?: 'warning' | 'notice';
}

/** A Redis Cluster of our own, on free ports. */
export interface RedisCluster {
  readonly nodes: readonly ClusterNodeProcess[];
  /** Seed nodes as REDIS_CLUSTER_NODES takes them. */
  readonly seeds: string;
  /** Sends one command to one node through redis-cli; returns its raw reply. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The ports of the nodes that are masters owning slots now, ascending. */
  masters(): Promise<number[]>;
  /** The port of the master that owns `slot`. */
  ownerOf(slot: number): Promise<number>;
  /** SIGKILL one node. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again, with its data and cluster config (it rejoins, as a replica). */
  restart(port: number): Promise<void>;
  /**
   * Waits until another node owns `slot` in place of the dead master `victim` (its replica was
   * promoted). Not the same as `victim` missing from `masters()`, which it is already while
   * merely suspected (`fail?`), seconds before the failover.
   */
  waitFailover(victim: number, slot: number, timeoutMs?: number): Promise<void>;
  /** Waits until every running node reports `cluster_state:ok` and all agree on the masters. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGTERM: each writes its AOF). */
  stop(): Promise<void>;
}

function redisCli(): string {
  return process.env.REDIS_CLI_BIN ?? 'redis-cli';
}

/** `cluster nodes` lines, split: id addr flags master ping pong epoch link-state slot-range… */
function parseClusterNodes(reply: string): string[][] {
  return reply
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
}

function portOf(fields: string[]): number {
  return Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
}

function isLiveMaster(fields: string[]): boolean {
  return Boolean(fields[2]?.includes('master') && !fields[2].includes('fail'));
}

/**
 * Starts `masters × (1 + replicasPerMaster)` `redis-server --cluster-enabled yes` (AOF on,
 * `noeviction`, a rejoining replica synced at once), joins them with `redis-cli --cluster create … --cluster-replicas N`, and waits for
 * `cluster_state:ok` on all of them. Stops every node it started when it fails.
 */
export async function startRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const binary = redisServerBinary();
  const masterCount = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const ports: number[] = [];
  while (ports.length < masterCount * (1 + replicas)) {
    const port = await freePort();
    // The cluster bus listens on port + 10000; both must be free and distinct.
    if (port + 10_000 <= 65_535 && !ports.includes(port)) ports.push(port);
  }
  const nodes = new Map<number, ManagedChild>();
  const start = async (port: number) => {
    const nodeDir = join(options.dir, String(port));
    mkdirSync(nodeDir, { recursive: true });
    const child = new ManagedChild({
      name: `redis-cluster:${port}`,
      command: binary,
      args: [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
        ...['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000)],
        ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
        ...['--maxmemory-policy', 'noeviction', '--loglevel', options.logLevel ?? 'notice'],
        // Sync a new replica at once, not 5 s later (the default, waiting for more replicas to
        // share the transfer): with REDIS_WAIT_REPLICAS a shard refuses until its replica is back.
        ...['--repl-diskless-sync-delay', '0'],
      ],
      echo: options.echo,
    });
    nodes.set(port, child);
    await child.waitFor(/Ready to accept connections/, 10_000);
  };
  const cli = async (port: number, ...args: string[]) =>
    (await run(redisCli(), ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
  const running = () => ports.filter((p) => nodes.get(p)?.running);
  const firstRunning = () => {
    const port = running()[0];
    if (port === undefined) throw new Error('no node of the cluster is running');
    return port;
  };
  /** Live masters that own slots, as one node sees them. */
  const mastersSeenBy = async (port: number) =>
    parseClusterNodes(await cli(port, 'cluster', 'nodes'))
      .filter((f) => isLiveMaster(f) && f.length > 8)
      .map(portOf)
      .sort((a, b) => a - b);
  const stop = async () => {
    await Promise.all([...nodes.values()].map((c) => c.stop()));
  };
  const cluster: RedisCluster = {
    get nodes() {
      return ports.map((port) => ({ port, child: nodes.get(port) as ManagedChild }));
    },
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    cli,
    masters: () => mastersSeenBy(firstRunning()),
    async ownerOf(slot) {
      for (const fields of parseClusterNodes(await cli(firstRunning(), 'cluster', 'nodes'))) {
        if (!isLiveMaster(fields)) continue;
        for (const range of fields.slice(8)) {
          const [from = -1, to = from] = range.split('-').map(Number);
          if (slot >= from && slot <= to) return portOf(fields);
        }
      }
      throw new Error(`no live master owns slot ${slot}`);
    },
    async kill(port) {
      await nodes.get(port)?.kill();
    },
    async restart(port) {
      await start(port);
    },
    async waitFailover(victim, slot, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await cluster.ownerOf(slot).catch(() => victim)) === victim) {
        if (Date.now() > deadline) {
          throw new Error(`no replica promoted in place of the master on port ${victim} after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown = 'not checked yet';
      for (;;) {
        try {
          const states = await Promise.all(running().map((port) => cli(port, 'cluster', 'info')));
          const seen = await Promise.all(running().map(mastersSeenBy));
          const agreed = seen.every((m) => m.length === masterCount && m.join() === seen[0]?.join());
          if (states.every((s) => s.includes('cluster_state:ok')) && agreed) return;
          last = `masters seen: ${JSON.stringify(seen)}`;
        } catch (e: unknown) {
          last = e;
        }
        if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${String(last)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    stop,
  };
  try {
    await Promise.all(ports.map(start));
    await run(redisCli(), [
      ...['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`)],
      ...['--cluster-replicas', String(replicas), '--cluster-yes'],
    ]);
    await cluster.waitHealthy();
    await waitReplicasOnline(cluster, replicas, 30_000);
    return cluster;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Waits until every master has its replicas attached and past their first full sync
 * (`state=online` in `INFO replication`): until then WAIT (REDIS_WAIT_REPLICAS) cannot succeed and
 * a measurement would include the initial sync.
 */
async function waitReplicasOnline(cluster: RedisCluster, replicasPerMaster: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const masters = await cluster.masters();
    const online = await Promise.all(
      masters.map(
        async (port) => ((await cluster.cli(port, 'info', 'replication')).match(/state=online/g) ?? []).length,
      ),
    );
    if (online.every((n) => n >= replicasPerMaster)) return;
    if (Date.now() > deadline) throw new Error(`replicas not online after ${timeoutMs} ms: ${online.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
