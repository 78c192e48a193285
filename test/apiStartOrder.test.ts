import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { API_NODE_FLAGS } from '@aggregator/api';
import { ENTRYPOINTS, freePort, ManagedChild, startApi, startWorker } from '@aggregator/stack';
import { expect } from 'chai';
import { environmentOf, mountsOf, readCompose } from './support/deployFiles.js';
import { withDirReadOnly } from './support/readOnlyMount.js';
import { requireTool } from './support/requireTool.js';
import { READ_ONLY_MOUNT, REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, testRedisUrl, withTempDir } from './support/withStack.js';

/**
 * The API replicas of docker-compose.yml come back in any order: after `docker compose down`
 * (SQLite removes the database's -wal and -shm files when its last connection closes cleanly)
 * or a daemon restart (where depends_on orders nothing), an API replica may open the database
 * before any worker runs. It must serve reads all the same. The API runs here with the database
 * directory mounted as the compose file mounts it into the `api` service (read-only or not).
 */

/** Whether docker-compose.yml mounts the directory of the API's SQLITE_PATH read-only. */
function composeMountsStoreReadOnly(): boolean {
  const api = readCompose().services.api;
  if (!api) throw new Error('docker-compose.yml has no api service');
  const dir = posix.dirname(environmentOf(api).SQLITE_PATH ?? '');
  const mount = mountsOf(api).find((m) => m.target === dir);
  if (!mount) throw new Error(`docker-compose.yml mounts nothing on ${dir} in the api service`);
  return mount.readOnly;
}

const json = { 'content-type': 'application/json' };

async function eventIds(url: string, topic: string, count: number): Promise<string[]> {
  const rows = await waitUntil(
    async () => {
      const res = await fetch(`${url}/events?topic=${topic}`);
      if (res.status !== 200) throw new Error(`GET /events answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as Array<{ event_id: string }>;
      return body.length >= count && body;
    },
    { what: `${count} events of ${topic} in GET /events` },
  );
  return rows.map((r) => r.event_id).sort();
}

describe('API start order with SQLite (the store mounted as in docker-compose.yml)', function () {
  this.timeout(90_000);
  const readOnly = composeMountsStoreReadOnly();

  before(readOnly ? requireTool(REDIS_SERVER, READ_ONLY_MOUNT) : requireTool(REDIS_SERVER));

  it('serves reads from a database a clean shutdown left without -wal/-shm before any worker runs, and once one writes', () =>
    withTempDir(async (dir) => {
      const dataDir = join(dir, 'data');
      mkdirSync(dataDir);
      const dbPath = join(dataDir, 'aggregator.db');
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = {
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: `t-${randomUUID().slice(0, 8)}`,
        SQLITE_PATH: dbPath,
        HOST: '127.0.0.1',
        PORT: String(port),
        JOB_BACKOFF_MS: '50',
      };
      const topic = `order-${randomUUID().slice(0, 8)}`;
      const publish = async (count: number) => {
        const events = Array.from({ length: count }, () => makeEvent({ topic }));
        const res = await fetch(`${url}/publish`, { method: 'POST', headers: json, body: JSON.stringify(events) });
        expect(res.status, await res.clone().text()).to.equal(200);
        return events.map((e) => e.event_id);
      };
      const children: ManagedChild[] = [];
      try {
        // A first life of the stack, ended cleanly: the last connection removes -wal and -shm.
        const firstWorker = await startWorker({ name: 'worker-a', env: { ...env, REPLICA_ID: 'worker-a' } });
        children.push(firstWorker);
        const firstApi = await startApi({ name: 'api-a', env: { ...env, REPLICA_ID: 'api-a' } });
        children.push(firstApi);
        const before = await publish(3);
        expect(await eventIds(url, topic, 3)).to.deep.equal(before.sort());
        await firstApi.stop();
        await firstWorker.stop();
        expect(existsSync(dbPath)).to.equal(true);
        expect(existsSync(`${dbPath}-wal`), 'the -wal file after a clean shutdown').to.equal(false);
        expect(existsSync(`${dbPath}-shm`), 'the -shm file after a clean shutdown').to.equal(false);

        // The API comes back first, alone, its data directory mounted as compose mounts it.
        const node = [...API_NODE_FLAGS, ENTRYPOINTS.api];
        const launch = readOnly
          ? withDirReadOnly(dataDir, process.execPath, node)
          : { command: process.execPath, args: node };
        const api = new ManagedChild({
          name: 'api-b',
          ...launch,
          env: { ...process.env, LOG_LEVEL: 'info', ...env, REPLICA_ID: 'api-b' },
        });
        children.push(api);
        await api.waitFor(/"api listening"/);
        expect(await eventIds(url, topic, 3)).to.deep.equal(before.sort());
        const stats = await fetch(`${url}/stats`);
        expect(stats.status).to.equal(200);
        expect(await stats.json()).to.deep.include({ received: 3, unique_processed: 3 });
        const ready = await fetch(`${url}/readyz`);
        expect(ready.status, await ready.clone().text()).to.equal(200);

        // A worker starts later and writes; the API keeps reading, and sees the new events.
        children.push(await startWorker({ name: 'worker-b', env: { ...env, REPLICA_ID: 'worker-b' } }));
        const after = await publish(2);
        expect(await eventIds(url, topic, 5)).to.deep.equal([...before, ...after].sort());
        expect((await fetch(`${url}/stats`)).status).to.equal(200);
      } finally {
        await Promise.all(children.map((c) => c.stop()));
      }
    }));
});
