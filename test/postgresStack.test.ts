import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, type Event } from '@aggregator/common';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withTestDatabase } from './support/postgres.js';
import { withProcessStack } from './support/processStack.js';
import { makeEvent } from './support/withStack.js';

/** The real entrypoints on the PostgreSQL store. */
describe('PostgreSQL store (processes)', function () {
  this.timeout(90_000);
  before(function () {
    requirePostgres(this);
  });

  it('serves two APIs and two workers that share nothing but DATABASE_URL and REDIS_URL', () =>
    withTestDatabase((url) =>
      withProcessStack({ workers: 2, apis: 2, distinctApiPorts: true, env: { DATABASE_URL: url } }, async (stack) => {
        const unique: Event[] = Array.from({ length: 300 }, (_, i) =>
          makeEvent({ topic: `t${i % 3}`, payload: JSON.parse(`{"z":${i},"a":1.50,"n":[1e21,-0]}`) }),
        );
        const all = [...unique, ...unique.slice(0, 60)];
        const batches = Array.from({ length: 12 }, (_, i) => all.slice(i * 30, i * 30 + 30));
        const replies = await Promise.all(batches.map((b, i) => stack.publish(b, stack.apiUrls[i % 2])));
        expect(replies.map((r) => r.status)).to.deep.equal(batches.map(() => 200));
        const stats = await stack.settle(360);
        expect(stats).to.include({ received: 360, unique_processed: 300, duplicate_dropped: 60 });
        expect((await stack.stats(stack.apiUrls[1])).unique_processed).to.equal(300);
        // Every event, once, from either replica, payload as accepted (JSON.stringify of it).
        const page = (await (await fetch(`${stack.apiUrls[1]}/events?limit=1000`)).json()) as Event[];
        expect(page.map((e) => e.event_id).sort()).to.deep.equal(unique.map((e) => e.event_id).sort());
        const byId = new Map(unique.map((e) => [e.event_id, e]));
        for (const e of page) expect(JSON.stringify(e.payload)).to.equal(JSON.stringify(byId.get(e.event_id)?.payload));
        // No process touched a SQLite file.
        expect(existsSync(stack.env.SQLITE_PATH as string)).to.equal(false);
        expect(existsSync(join(stack.dir, 'aggregator.db'))).to.equal(false);
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
        expect(body.error.message).to.match(/PostgreSQL at .*schema version 99\b.*\b1\b/);
        const events = await fetch(`${stack.apiUrl}/events`);
        expect(events.status).to.equal(503);
        expect(((await events.json()) as { error: { code: string } }).error.code).to.equal('store_unavailable');
      }),
    ));
});
