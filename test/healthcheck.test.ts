import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '@aggregator/common';
import { freePort, REPO_ROOT, startApi, startWorker } from '@aggregator/stack';
import { expect } from 'chai';
import fc from 'fast-check';
import { withRedisCluster } from './support/redisCluster.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { testRedisUrl, withTempDir } from './support/withStack.js';

/**
 * deploy/healthcheck.mjs, the Docker HEALTHCHECK of the api and worker images, run against the
 * real entrypoints with the environment a container would give both.
 */

const SCRIPT = join(REPO_ROOT, 'deploy', 'healthcheck.mjs');

function healthcheck(
  role: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeArgs, SCRIPT, role],
      { env: { ...process.env, ...env } },
      (error, _stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
      },
    );
  });
}

/**
 * Runs a check with an ESM resolve hook that appends every module it resolves to a file, and
 * returns the modules that are neither node builtins nor the script itself.
 */
async function modulesLoadedBy(role: string, env: Record<string, string>, dir: string): Promise<string[]> {
  const record = join(dir, `${role}-modules.txt`);
  writeFileSync(record, '');
  const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(record)}, result.url + '\\n');
  return result;
}`;
  const register = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const result = await healthcheck(role, env, ['--import', `data:text/javascript,${encodeURIComponent(register)}`]);
  const resolved = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  // The recorder saw the script itself, or it recorded nothing at all.
  expect(resolved, `${role} check: ${result.stderr}`).to.include(pathToFileURL(SCRIPT).href);
  return resolved.filter((url) => !url.startsWith('node:') && url !== pathToFileURL(SCRIPT).href);
}

function containerEnv(dir: string): Record<string, string> {
  return {
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: `t-${randomUUID().slice(0, 8)}`,
    SQLITE_PATH: join(dir, 'aggregator.db'),
  };
}

describe('Docker health check (deploy/healthcheck.mjs)', () => {
  before(requireTool(REDIS_SERVER));
  it('reports an API healthy while it answers /healthz on its PORT, unhealthy once it is gone', () =>
    withTempDir(async (dir) => {
      const env = { ...containerEnv(dir), PORT: String(await freePort()), REPLICA_ID: 'api-0' };
      const api = await startApi({ name: 'api', env });
      try {
        expect(await healthcheck('api', env)).to.deep.equal({ code: 0, stderr: '' });
      } finally {
        await api.stop();
      }
      const after = await healthcheck('api', env);
      expect(after.code).to.equal(1);
      expect(after.stderr).to.match(/^unhealthy: .*ECONNREFUSED/);
    }));

  it("reports a worker healthy while its heartbeat is fresh, unhealthy once it stopped or for another worker's id", () =>
    withTempDir(async (dir) => {
      const env = { ...containerEnv(dir), REPLICA_ID: 'worker-0' };
      const worker = await startWorker({ name: 'worker', env });
      try {
        // The first heartbeat is written as the worker starts; give it that moment.
        await waitUntil(async () => (await healthcheck('worker', env)).code === 0, { what: 'a healthy worker' });
        const other = await healthcheck('worker', { ...env, REPLICA_ID: 'worker-1' });
        expect(other.code).to.equal(1);
        expect(other.stderr).to.match(/^unhealthy: no heartbeat/);
      } finally {
        await worker.stop();
      }
      expect((await healthcheck('worker', env)).code).to.equal(1);
    }));

  it("finds a worker on a Redis Cluster, where REDIS_URL is ignored and the keys are the cluster's", function () {
    this.timeout(120_000);
    return withTempDir((dir) =>
      withRedisCluster(async (cluster) => {
        // REDIS_URL points nowhere: on a cluster only the seed nodes count.
        const env = {
          ...containerEnv(dir),
          REDIS_URL: 'redis://127.0.0.1:1',
          REDIS_CLUSTER_NODES: cluster.seeds,
          REPLICA_ID: 'worker-0',
        };
        const worker = await startWorker({ name: 'worker', env });
        try {
          await waitUntil(async () => (await healthcheck('worker', env)).code === 0, {
            what: 'a healthy worker on the cluster',
          });
          const other = await healthcheck('worker', { ...env, REPLICA_ID: 'worker-1' });
          expect(other.stderr).to.match(/^unhealthy: no heartbeat/);
        } finally {
          await worker.stop();
        }
      }),
    );
  });

  it('loads only node builtins for the api check, and ioredis but not the app for the worker check', () =>
    withTempDir(async (dir) => {
      const env = { ...containerEnv(dir), PORT: String(await freePort()), REPLICA_ID: 'api-0' };
      const api = await startApi({ name: 'api', env });
      try {
        expect(await modulesLoadedBy('api', env, dir)).to.deep.equal([]);
      } finally {
        await api.stop();
      }
      const worker = await modulesLoadedBy('worker', { ...env, REPLICA_ID: 'worker-0' }, dir);
      expect(worker.some((url) => url.includes('/node_modules/ioredis/'))).to.equal(true);
      // The key builders, the partition function they use and the liveness rule: pure modules that
      // import nothing else.
      expect(worker.filter((url) => url.includes('/common/'))).to.have.members([
        pathToFileURL(join(REPO_ROOT, 'common/dist/keys.js')).href,
        pathToFileURL(join(REPO_ROOT, 'common/dist/liveness.js')).href,
        pathToFileURL(join(REPO_ROOT, 'common/dist/partition.js')).href,
      ]);
    }));

  it('reads HOST, PORT and the Redis settings with the defaults and the validation of loadConfig', async () => {
    type CheckConfig = {
      host: string;
      port: number;
      redisUrl: string;
      prefix: string;
      replicaId?: string;
      clusterNodes?: Array<{ host: string; port: number }>;
    };
    const { readCheckConfig } = (await import(pathToFileURL(SCRIPT).href)) as {
      readCheckConfig: (env: Record<string, string>) => CheckConfig;
    };
    const cases: Record<string, string>[] = [
      {},
      { PORT: '', HOST: '', REDIS_URL: '', REDIS_PREFIX: '', REPLICA_ID: '' },
      { PORT: '9090', HOST: '::1' },
      { PORT: '0x10' },
      { PORT: ' 80 ' },
      { PORT: '0' },
      { PORT: '65535' },
      { PORT: 'eighty' },
      { PORT: '65536' },
      { PORT: '80.5' },
      { PORT: '-1' },
      { REDIS_URL: 'rediss://user:secret@redis.example:6380/2' },
      { REDIS_URL: 'http://redis:6379' },
      { REDIS_URL: 'not a url' },
      { REDIS_PREFIX: 'staging.v2' },
      { REDIS_PREFIX: 'a b' },
      { REDIS_PREFIX: 'x'.repeat(65) },
      { REPLICA_ID: 'worker-3' },
      { REPLICA_ID: 'worker/3' },
      { REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' },
      { REDIS_CLUSTER_NODES: '[::1]:7000' },
      { REDIS_CLUSTER_NODES: 'redis-a' },
      { REDIS_CLUSTER_NODES: 'redis-a:70000' },
    ];
    for (const env of cases) {
      const what = JSON.stringify(env);
      let config: ReturnType<typeof loadConfig> | undefined;
      try {
        config = loadConfig(env);
      } catch {
        config = undefined;
      }
      if (!config) {
        expect(() => readCheckConfig(env), what).to.throw(/^invalid configuration/);
        continue;
      }
      expect(readCheckConfig(env), what).to.deep.equal({
        host: config.HOST,
        port: config.PORT,
        redisUrl: config.REDIS_URL,
        prefix: config.REDIS_PREFIX,
        // loadConfig's default is this process's own id; the check then matches by host name.
        replicaId: env.REPLICA_ID || undefined,
        clusterNodes: config.REDIS_CLUSTER_NODES,
      });
    }
  });

  it('reads REDIS_CLUSTER_NODES as loadConfig does, whatever the spec (its own copy of the rule)', async () => {
    // The script parses the seed nodes itself (the api check may load node builtins only), so the
    // two parsers are held to one verdict and one result on specs built from the characters that
    // matter to them.
    const { readCheckConfig } = (await import(pathToFileURL(SCRIPT).href)) as {
      readCheckConfig: (env: Record<string, string>) => { clusterNodes?: unknown };
    };
    const piece = fc.constantFrom(
      'redis-a',
      '10.0.0.1',
      '[::1]',
      '[fe80::1]',
      'a b',
      '[x]',
      ':',
      '7000',
      '65535',
      '65536',
      ' ',
      ',',
      '[',
      ']',
      '0',
    );
    const spec = fc.array(piece, { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''));
    const node = fc.tuple(fc.constantFrom('redis-a', '10.0.0.1', '[::1]', 'h'), fc.integer({ min: 0, max: 99_999 }));
    const list = fc
      .array(node, { minLength: 1, maxLength: 3 })
      .map((nodes) => nodes.map(([h, p]) => `${h}:${p}`).join(', '));
    fc.assert(
      fc.property(fc.oneof(spec, list), (s) => {
        let expected: unknown;
        try {
          expected = loadConfig({ REDIS_CLUSTER_NODES: s }).REDIS_CLUSTER_NODES;
        } catch {
          expect(() => readCheckConfig({ REDIS_CLUSTER_NODES: s }), s).to.throw(/^invalid configuration/);
          return;
        }
        expect(readCheckConfig({ REDIS_CLUSTER_NODES: s }).clusterNodes, s).to.deep.equal(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('fails with the usage for an unknown role', async () => {
    const result = await healthcheck('scheduler', {});
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('usage: healthcheck.mjs api|worker');
  });
});
