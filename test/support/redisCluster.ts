import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ManagedChild, redisServerBinary } from '@aggregator/load';
import { waitUntil } from './waitUntil.js';
import { withTempDir } from './withStack.js';

const run = promisify(execFile);

/** One redis-server of the test cluster. */
export interface ClusterNodeProcess {
  readonly port: number;
  readonly child: ManagedChild;
}

/** A Redis Cluster of the test's own: 3 masters with a replica each, on free ports. */
export interface RedisClusterFixture {
  readonly nodes: readonly ClusterNodeProcess[];
  /** Seed nodes as REDIS_CLUSTER_NODES takes them. */
  readonly seeds: string;
  /** Sends one command to one node through redis-cli; returns its raw reply. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The ports of the nodes that are masters now. */
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
  /** Waits until every running node reports `cluster_state:ok` and agrees on the masters. */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

function redisCli(): string {
  return process.env.REDIS_CLI_BIN ?? 'redis-cli';
}

/**
 * Starts 6 `redis-server --cluster-enabled yes` (AOF on, a short node timeout so failovers take
 * seconds, a rejoining replica synced at once), joins them with `redis-cli --cluster create …
 * --cluster-replicas 1`, waits for `cluster_state:ok` on all of them, runs `fn`, and stops every node.
 */
export async function withRedisCluster<T>(fn: (cluster: RedisClusterFixture) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const binary = redisServerBinary();
    const ports: number[] = [];
    while (ports.length < 6) {
      const port = await freePort();
      // The cluster bus listens on port + 10000; both must be free and distinct.
      if (port + 10_000 <= 65_535 && !ports.includes(port)) ports.push(port);
    }
    const nodes = new Map<number, ManagedChild>();
    const start = async (port: number) => {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir, { recursive: true });
      const child = new ManagedChild({
        name: `redis-cluster:${port}`,
        command: binary,
        args: [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          nodeDir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
          '--save',
          '',
          '--maxmemory-policy',
          'noeviction',
          // Sync a new replica at once, not 5 s later (the default, waiting for more replicas to
          // share the transfer): with REDIS_WAIT_REPLICAS a shard refuses until its replica is back.
          '--repl-diskless-sync-delay',
          '0',
        ],
      });
      nodes.set(port, child);
      await child.waitFor(/Ready to accept connections/, 10_000);
    };
    const cli = async (port: number, ...args: string[]) =>
      (await run(redisCli(), ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
    const running = () => ports.filter((p) => nodes.get(p)?.running);
    /** Live masters that own slots, as one node sees them (`cluster nodes` flags in field 3). */
    const mastersSeenBy = async (port: number) =>
      (await cli(port, 'cluster', 'nodes'))
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .filter((f) => f[2]?.includes('master') && !f[2].includes('fail') && f.length > 8)
        .map((f) => Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]))
        .sort((a, b) => a - b);
    const masters = () => mastersSeenBy(running()[0] as number);
    const fixture: RedisClusterFixture = {
      get nodes() {
        return ports.map((port) => ({ port, child: nodes.get(port) as ManagedChild }));
      },
      seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
      cli,
      masters,
      async ownerOf(slot) {
        // `cluster nodes`: id addr flags master ping pong epoch link-state slot-range…
        const lines = (await cli(running()[0] as number, 'cluster', 'nodes')).trim().split('\n');
        for (const line of lines) {
          const fields = line.split(' ');
          if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
          for (const range of fields.slice(8)) {
            const [from = -1, to = from] = range.split('-').map(Number);
            if (slot >= from && slot <= to) return Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
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
        await waitUntil(async () => (await fixture.ownerOf(slot).catch(() => victim)) !== victim, {
          what: `a replica promoted in place of the master on port ${victim}`,
          timeoutMs,
          intervalMs: 50,
        });
      },
      async waitHealthy(timeoutMs = 30_000) {
        await waitUntil(
          async () => {
            for (const port of running()) {
              if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
            }
            const seen = await Promise.all(running().map(mastersSeenBy));
            return seen.every((m) => m.length === 3 && m.join() === seen[0]?.join());
          },
          { what: 'cluster_state:ok on every node', timeoutMs, intervalMs: 200 },
        );
      },
    };
    try {
      await Promise.all(ports.map(start));
      await run(redisCli(), [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ]);
      await fixture.waitHealthy();
      return await fn(fixture);
    } finally {
      await Promise.all([...nodes.values()].map((c) => c.stop()));
    }
  });
}
