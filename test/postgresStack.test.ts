import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Stats } from '@aggregator/api';
import { ERROR_CODES } from '@aggregator/api';
import type { Event } from '@aggregator/common';
import { freePort, type ManagedChild, startApi, startWorker } from '@aggregator/stack';
import { POSTGRES_MIGRATIONS } from '@aggregator/store';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { withProcessStack } from './support/processStack.js';
import { pairKey } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, testRedisUrl, withTempDir } from './support/withStack.js';

/** The real entrypoints on the PostgreSQL store. */
describe('PostgreSQL store (processes)', function () {
  this.timeout(90_000);
  before(function () {
    requirePostgres(this);
  });

  it('serves APIs and workers that each run in a directory of their own and share nothing but two URLs', () =>
    withTestDatabase((databaseUrl) =>
      withTempDir(async (root) => {
        // The shape of a deployment on several hosts: no SQLITE_PATH, no shared volume, each
        // process in an empty working directory, which must still be empty at the end.
        const env = {
          DATABASE_URL: databaseUrl,
          REDIS_URL: testRedisUrl(),
          REDIS_PREFIX: `mh-${randomUUID().slice(0, 8)}`,
        };
        expect(Object.keys(process.env).filter((k) => k.startsWith('SQLITE_'))).to.deep.equal([]);
        const children: ManagedChild[] = [];
        const home = (name: string) => {
          const dir = join(root, name);
          mkdirSync(dir);
          return dir;
        };
        try {
          const apiUrls: string[] = [];
          for (const i of [0, 1]) {
            const name = `worker-${i}`;
            children.push(await startWorker({ name, cwd: home(name), env: { ...env, REPLICA_ID: name } }));
          }
          for (const i of [0, 1]) {
            const name = `api-${i}`;
            const port = await freePort();
            children.push(
              await startApi({ name, cwd: home(name), env: { ...env, REPLICA_ID: name, PORT: String(port) } }),
            );
            apiUrls.push(`http://127.0.0.1:${port}`);
          }
          for (const child of children) {
            const dir = join(root, child.name);
            expect(realpathSync(`/proc/${child.pid}/cwd`), child.name).to.equal(realpathSync(dir));
            const variables = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
            expect(
              variables.filter((v) => v.startsWith('SQLITE_')),
              child.name,
            ).to.deep.equal([]);
            expect(variables, child.name).to.include(`DATABASE_URL=${databaseUrl}`);
          }

          const unique: Event[] = Array.from({ length: 300 }, (_, i) =>
            makeEvent({ topic: `t${i % 3}`, payload: JSON.parse(`{"z":${i},"a":1.50,"n":[1e21,-0]}`) }),
          );
          const all = [...unique, ...unique.slice(0, 60)];
          const batches = Array.from({ length: 12 }, (_, i) => all.slice(i * 30, i * 30 + 30));
          const replies = await Promise.all(
            batches.map((b, i) =>
              fetch(`${apiUrls[i % 2]}/publish`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(b),
              }),
            ),
          );
          expect(replies.map((r) => r.status)).to.deep.equal(batches.map(() => 200));
          for (const url of apiUrls) {
            const stats = await waitUntil(
              async () => {
                const s = (await (await fetch(`${url}/stats`)).json()) as Stats;
                return s.received === 360 && s.queue.waiting + s.queue.active + s.queue.delayed === 0 && s;
              },
              { what: `received == 360 at ${url}` },
            );
            expect(stats).to.include({ received: 360, unique_processed: 300, duplicate_dropped: 60, workers: 2 });
            // Every event, once, from either replica, payload as accepted (JSON.stringify of it).
            const stored = await listStoredPairs(url);
            expect(stored).to.have.members(unique.map(pairKey));
          }
          const page = (await (await fetch(`${apiUrls[1]}/events?limit=1000`)).json()) as Event[];
          const byId = new Map(unique.map((e) => [e.event_id, e]));
          for (const e of page)
            expect(JSON.stringify(e.payload)).to.equal(JSON.stringify(byId.get(e.event_id)?.payload));
        } finally {
          await Promise.all(children.map((c) => c.stop()));
        }
        // No process wrote a file where it ran: no SQLite store, nothing else either.
        for (const child of children) expect(readdirSync(join(root, child.name)), child.name).to.deep.equal([]);
      }),
    ));

  it('keeps an API replica not ready, naming both versions, on a schema newer than its build', () =>
    withTestDatabase((url) =>
      withProcessStack({ workers: 1, apis: 0, env: { DATABASE_URL: url } }, async (stack) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query('INSERT INTO schema_migrations (version) VALUES (99)').finally(() => client.end());
        await stack.startApi();
        const res = await fetch(`${stack.apiUrl}/readyz`);
        expect(res.status).to.equal(503);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(ERROR_CODES).to.include(body.error.code);
        expect(body.error).to.include({ code: 'not_ready' });
        expect(body.error.message).to.match(
          new RegExp(`PostgreSQL at .*schema version 99\\b.*\\b${POSTGRES_MIGRATIONS.length}\\b`),
        );
        const events = await fetch(`${stack.apiUrl}/events`);
        expect(events.status).to.equal(503);
        expect(((await events.json()) as { error: { code: string } }).error.code).to.equal('store_unavailable');
      }),
    ));
});
