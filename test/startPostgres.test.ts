import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Stats } from '@aggregator/api';
import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { requirePostgres } from './support/postgres.js';
import { pairKey } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withTempDir } from './support/withStack.js';

/** `npm start -- --store postgres`, as a user runs it: the launcher with its private PostgreSQL. */
function startLauncher(dataDir: string, port: number): ManagedChild {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return new ManagedChild({
    name: 'npm-start',
    command: process.execPath,
    args: [
      join(REPO_ROOT, 'stack/dist/startCli.js'),
      '--store',
      'postgres',
      '--workers',
      '2',
      '--data',
      dataDir,
      '--port',
      String(port),
    ],
    env,
  });
}

async function stats(url: string): Promise<Stats> {
  return (await (await fetch(`${url}/stats`)).json()) as Stats;
}

describe('npm start -- --store postgres (processes)', function () {
  this.timeout(120_000);
  before(function () {
    requirePostgres(this, { ownServer: true });
  });

  it('runs the stack on a private PostgreSQL under --data, which keeps every event across restarts', () =>
    withTempDir(async (root) => {
      // As root, PostgreSQL runs as the "postgres" user, which must be able to enter the directory.
      chmodSync(root, 0o755);
      const dataDir = join(root, 'data');
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const events = Array.from({ length: 40 }, (_, i) => makeEvent({ topic: `t${i % 2}` }));

      const first = startLauncher(dataDir, port);
      try {
        const up = await first.waitFor(/aggregator is up on/, 90_000);
        // With its password hidden: the services have it in their environment.
        expect(up).to.match(/postgres postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/aggregator\b/);
        const res = await fetch(`${url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([...events, ...events.slice(0, 10)]),
        });
        expect(res.status).to.equal(200);
        const settled = await waitUntil(async () => {
          const s = await stats(url);
          return s.received === 50 && s.workers === 2 && s;
        });
        expect(settled).to.include({ unique_processed: 40, duplicate_dropped: 10 });
      } finally {
        await first.stop(30_000, 'SIGINT');
      }
      expect((await first.exited).code).to.equal(0);
      // The store is PostgreSQL's cluster under --data, not a SQLite file.
      expect(existsSync(join(dataDir, 'postgres', 'data', 'PG_VERSION'))).to.equal(true);
      expect(readdirSync(dataDir).filter((f) => f.startsWith('aggregator.db'))).to.deep.equal([]);

      // The second start finds the cluster and its database again (created once, not twice).
      const second = startLauncher(dataDir, port);
      try {
        await second.waitFor(/aggregator is up on/, 90_000);
        expect(await stats(url)).to.include({ received: 50, unique_processed: 40, duplicate_dropped: 10 });
        expect(await listStoredPairs(url)).to.have.members(events.map(pairKey));
      } finally {
        await second.stop(30_000, 'SIGINT');
      }
      expect((await second.exited).code).to.equal(0);
    }));
});
