import { ERROR_CODES } from '@aggregator/api';
import type { Event } from '@aggregator/common';
import type { PostgresServer } from '@aggregator/stack';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres, withPrivatePostgres } from './support/postgres.js';
import { type ProcessStack, withProcessStack } from './support/processStack.js';
import { pairKey } from './support/producer.js';
import { expectExactlyStored } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/** `count` fresh events plus a copy of every fourth of them (and of `earlier`'s first five). */
function mixedBatch(count: number, earlier: Event[] = []): { events: Event[]; distinct: Event[] } {
  const distinct = Array.from({ length: count }, (_, i) => makeEvent({ topic: `t${i % 3}` }));
  return { events: [...distinct, ...distinct.filter((_, i) => i % 4 === 0), ...earlier.slice(0, 5)], distinct };
}

/** Settles at `received`; the counters are exact and the store holds each of `distinct` once, nothing else. */
function expectExact(stack: ProcessStack, distinct: Event[], received: number): Promise<void> {
  return expectExactlyStored(stack, new Set(distinct.map(pairKey)), received);
}

async function errorOf(res: Response): Promise<{ code: string; message: string; details?: unknown }> {
  const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
  expect(ERROR_CODES).to.include(body.error.code);
  return body.error;
}

/** Worker log lines of job attempts that failed on the store and were left to BullMQ's backoff. */
function retriedAttempts(stack: ProcessStack): Array<{ jobId: string; attempt: number; msg: string }> {
  return stack.workers
    .flatMap((w) => w.lines)
    .filter((l) => l.includes('it will be retried with backoff'))
    .map((l) => JSON.parse(l) as { jobId: string; attempt: number; msg: string });
}

/** Workers fail their attempts on a store outage; none of them exits. */
function expectWorkersRunning(stack: ProcessStack): void {
  expect(
    stack.workers.filter((w) => !w.running).map((w) => `${w.name} exited:\n${w.tail(10)}`),
    'a worker exited',
  ).to.deep.equal([]);
}

/**
 * Holds every group commit of the database at `url` just before its end, inside its transaction,
 * with all of its rows, counters and applied-job records written: an AFTER trigger on the counter
 * slots (updated by the group's last statement) sleeps while a flag row exists. Only a cut connection (or `release()`) ends the wait; a
 * sleeping backend dies at once on a terminate or a shutdown, so the held transaction cannot
 * slip through to its commit. `client` is a session of the test's on that database (its errors,
 * when the server goes, are expected).
 */
async function holdCommitsBeforeTheirEnd(url: string): Promise<{ client: pg.Client; release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  await client.query(`
    CREATE TABLE hold_commits (held boolean);
    INSERT INTO hold_commits VALUES (true);
    CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Each statement of a volatile function sees what is committed when it starts.
      WHILE EXISTS (SELECT 1 FROM hold_commits) LOOP PERFORM pg_sleep(0.05); END LOOP;
      RETURN NULL;
    END $$;
    CREATE TRIGGER hold_commit AFTER UPDATE ON counter_slots FOR EACH STATEMENT EXECUTE FUNCTION hold_commit();`);
  return { client, release: () => client.query('DELETE FROM hold_commits').then(() => {}) };
}

/** The worker's backend, once it waits in the trigger with its group's writes done; its pid. */
async function heldWriter(admin: pg.Client): Promise<number> {
  return waitUntil(
    async () => {
      const { rows } = await admin.query<{ pid: number; query: string }>(
        `SELECT pid, query FROM pg_stat_activity
         WHERE application_name = 'aggregator' AND wait_event = 'PgSleep'`,
      );
      const [row] = rows;
      if (!row) return false;
      // It waits inside the group's last statement: after its reads and its rows' insert.
      expect(row.query).to.match(/^\s*WITH counted AS \(\s*UPDATE counter_slots/);
      return row.pid;
    },
    { what: 'a group commit waiting in the trigger' },
  );
}

/** Counters as a second session sees them: the held transaction's writes must not be visible. */
async function committedCounters(client: pg.Client): Promise<{ unique_processed: number; events: number }> {
  const { rows } = await client.query<{ unique_processed: string; events: string }>(
    'SELECT unique_processed, (SELECT count(*) FROM events) AS events FROM counters',
  );
  const row = rows[0];
  return { unique_processed: Number(row?.unique_processed), events: Number(row?.events) };
}

const STACK = { JOB_BACKOFF_MS: '100' };

function withStackOnPrivatePostgres<T>(
  fn: (stack: ProcessStack, server: PostgresServer, url: string) => Promise<T>,
): Promise<T> {
  return withPrivatePostgres((server, url) =>
    withProcessStack({ workers: 2, apis: 1, env: { ...STACK, DATABASE_URL: url } }, (stack) => fn(stack, server, url)),
  );
}

describe('PostgreSQL failures (processes)', function () {
  this.timeout(120_000);
  before(function () {
    requirePostgres(this, { ownServer: true });
  });

  it('keeps accepting while PostgreSQL is down, says so on /readyz, /events and /stats, and drains when it returns', () =>
    withStackOnPrivatePostgres(async (stack, server, url) => {
      const first = mixedBatch(40);
      expect((await stack.publish(first.events)).status).to.equal(200);
      await stack.settle(first.events.length);

      await server.shutdown();
      const during = [mixedBatch(30, first.distinct), mixedBatch(30), mixedBatch(30)];
      for (const batch of during) expect((await stack.publish(batch.events)).status).to.equal(200);

      // Workers fail their attempts on the store and leave them to backoff, without exiting.
      const retried = await waitUntil(
        () => {
          const lines = retriedAttempts(stack);
          return lines.some((l) => l.attempt >= 3) && lines;
        },
        { what: 'a job in its third attempt', timeoutMs: 30_000 },
      );
      expect(retried.map((l) => l.msg)).to.satisfy((msgs: string[]) =>
        msgs.every((m) => /job failed: .*(PostgreSQL|refused the connection)/.test(m)),
      );
      expectWorkersRunning(stack);

      const ready = await fetch(`${stack.apiUrl}/readyz`);
      expect(ready.status).to.equal(503);
      const notReady = await errorOf(ready);
      expect(notReady.code).to.equal('not_ready');
      expect(notReady.details).to.deep.equal({ redis: 'up', store: 'down' });
      const where = `PostgreSQL at 127.0.0.1:${server.port}${new URL(url).pathname}`;
      expect(notReady.message).to.include(`store is down (the store (${where})`);
      for (const path of ['/events', '/stats']) {
        const res = await fetch(`${stack.apiUrl}${path}`);
        expect(res.status, path).to.equal(503);
        expect(res.headers.get('retry-after'), path).to.match(/^\d+$/);
        const error = await errorOf(res);
        expect(error.code, path).to.equal('store_unavailable');
        expect(error.message, path).to.include(where);
      }
      expect((await fetch(`${stack.apiUrl}/healthz`)).status).to.equal(200);

      await server.start();
      const distinct = [...first.distinct, ...during.flatMap((b) => b.distinct)];
      const received = first.events.length + during.reduce((n, b) => n + b.events.length, 0);
      await expectExact(stack, distinct, received);
      expect((await fetch(`${stack.apiUrl}/readyz`)).status).to.equal(200);
      expectWorkersRunning(stack);
    }));

  it('applies a job exactly once when its connection is killed (pg_terminate_backend) before the commit', () =>
    withStackOnPrivatePostgres(async (stack, _server, url) => {
      const first = mixedBatch(20);
      expect((await stack.publish(first.events)).status).to.equal(200);
      await stack.settle(first.events.length);

      const hold = await holdCommitsBeforeTheirEnd(url);
      try {
        const second = mixedBatch(30, first.distinct);
        expect((await stack.publish(second.events)).status).to.equal(200);
        const pid = await heldWriter(hold.client);
        expect(await committedCounters(hold.client)).to.deep.equal({ unique_processed: 20, events: 20 });
        const { rows } = await hold.client.query<{ killed: boolean }>('SELECT pg_terminate_backend($1) AS killed', [
          pid,
        ]);
        expect(rows[0]?.killed).to.equal(true);
        const [retry] = await waitUntil(() => retriedAttempts(stack).length > 0 && retriedAttempts(stack), {
          what: 'the failed attempt in the log',
        });
        expect(retry?.msg).to.match(/^job failed: PostgreSQL is shutting down \(admin shutdown\)/);
        await hold.release();

        await expectExact(stack, [...first.distinct, ...second.distinct], first.events.length + second.events.length);
        // The cut connection failed the attempt; it did not take the process down with it.
        expectWorkersRunning(stack);
        expect(await committedCounters(hold.client)).to.deep.equal({ unique_processed: 50, events: 50 });
      } finally {
        await hold.client.end().catch(() => {});
      }
    }));

  it('applies a job exactly once when PostgreSQL restarts (fast shutdown) in the middle of its transaction', () =>
    withStackOnPrivatePostgres(async (stack, server, url) => {
      const first = mixedBatch(20);
      expect((await stack.publish(first.events)).status).to.equal(200);
      await stack.settle(first.events.length);

      const hold = await holdCommitsBeforeTheirEnd(url);
      const second = mixedBatch(30, first.distinct);
      try {
        expect((await stack.publish(second.events)).status).to.equal(200);
        await heldWriter(hold.client);
        // The fast shutdown cuts every session: the held transaction is rolled back.
        await server.restart();
      } finally {
        await hold.client.end().catch(() => {});
      }
      const check = new pg.Client({ connectionString: url });
      await check.connect();
      try {
        // Nothing of the held transaction survived; its retries are held until released.
        expect(await committedCounters(check)).to.deep.equal({ unique_processed: 20, events: 20 });
        await check.query('DELETE FROM hold_commits');
        await expectExact(stack, [...first.distinct, ...second.distinct], first.events.length + second.events.length);
        expectWorkersRunning(stack);
        // The held attempt failed on the shutdown (later ones may have found the server still down).
        const held = retriedAttempts(stack).filter((l) => l.attempt === 1);
        expect(held, JSON.stringify(retriedAttempts(stack))).to.have.length(1);
        expect(held[0]?.msg).to.match(/^job failed: (PostgreSQL is shutting down|the PostgreSQL connection was lost)/);
        expect(await committedCounters(check)).to.deep.equal({ unique_processed: 50, events: 50 });
      } finally {
        await check.end();
      }
    }));
});
