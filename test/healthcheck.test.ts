import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort, REPO_ROOT, startApi, startWorker } from '@aggregator/load';
import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { testRedisUrl, withTempDir } from './support/withStack.js';

/**
 * deploy/healthcheck.mjs, the Docker HEALTHCHECK of the api and worker images, run against the
 * real entrypoints with the environment a container would give both.
 */

const SCRIPT = join(REPO_ROOT, 'deploy', 'healthcheck.mjs');

function healthcheck(role: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, role], { env: { ...process.env, ...env } }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
    });
  });
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

  it('fails with the usage for an unknown role', async () => {
    const result = await healthcheck('scheduler', {});
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('usage: healthcheck.mjs api|worker');
  });
});
