import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startLocalPostgres, startLocalStack, startPostgresServer } from '@aggregator/stack';
import { expect } from 'chai';
import pg from 'pg';
import { requirePostgres } from './support/postgres.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withTempDir } from './support/withStack.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** What a connection with `url` gets: 'ok', or the server's error message. */
async function tryConnect(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (e: unknown) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** One RESP command on a fresh connection; the first line of the reply. */
async function rawRedis(port: number, command: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString('latin1').split('\r\n')[0] ?? '');
    });
    socket.once('error', reject);
  });
}

describe('the local stack trusts no other local user (npm start)', function () {
  this.timeout(120_000);

  describe('Redis and the data directory', () => {
    before(requireTool(REDIS_SERVER));

    it('keeps its data directories 0700, and its Redis refuses anyone without the password it gave the services', () =>
      withTempDir(async (root) => {
        const dataDir = join(root, 'data');
        const stack = await startLocalStack({ apis: 1, workers: 1, port: await freePort(), dataDir });
        try {
          expect(modeOf(dataDir).toString(8)).to.equal('700');
          expect(modeOf(join(dataDir, 'redis')).toString(8)).to.equal('700');
          expect(modeOf(join(dataDir, 'redis', 'users.conf')).toString(8)).to.equal('600');
          const port = stack.redis?.port ?? 0;
          expect(await rawRedis(port, 'PING')).to.match(/^-NOAUTH/);
          expect(await rawRedis(port, 'AUTH default ""')).to.match(/^-WRONGPASS/);
          const url = new URL(stack.redisUrl);
          expect(url.username).to.equal('aggregator');
          expect(url.password.length).to.be.at.least(32);
          // Not on the server's command line, which every local user can read.
          const pid = stack.redis?.child.pid;
          expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).to.not.include(url.password);
          // The services sign in with it: an event goes all the way through.
          const event = makeEvent();
          const res = await fetch(`${stack.url}/publish`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(event),
          });
          expect(res.status).to.equal(200);
          await waitUntil(
            async () =>
              ((await (await fetch(`${stack.url}/stats`)).json()) as { unique_processed: number }).unique_processed ===
              1,
            {
              what: 'the event stored',
            },
          );
        } finally {
          await stack.stop();
        }
      }));

    it("makes a data directory an older version left open to all its owner's only", () =>
      withTempDir(async (root) => {
        const dataDir = join(root, 'data');
        const { mkdirSync } = await import('node:fs');
        mkdirSync(dataDir, { mode: 0o755 });
        chmodSync(dataDir, 0o755);
        const stack = await startLocalStack({ apis: 1, workers: 1, port: await freePort(), dataDir });
        try {
          expect(modeOf(dataDir).toString(8)).to.equal('700');
        } finally {
          await stack.stop();
        }
      }));
  });

  describe('its private PostgreSQL', () => {
    before(function () {
      requirePostgres(this, { ownServer: true });
    });

    it('asks for a random scram password, over TCP and its socket, kept 0600 in a 0700 directory', () =>
      withTempDir(async (root) => {
        // As root, PostgreSQL runs as the "postgres" user, which must be able to enter the directory.
        chmodSync(root, 0o755);
        const dir = join(root, 'postgres');
        const local = await startLocalPostgres({ dir });
        try {
          const url = new URL(local.url);
          expect(url.password.length).to.be.at.least(32);
          expect(readFileSync(join(dir, 'superuser-password'), 'utf8').trim()).to.equal(
            decodeURIComponent(url.password),
          );
          expect(modeOf(join(dir, 'superuser-password')).toString(8)).to.equal('600');
          expect(modeOf(dir).toString(8)).to.equal('700');
          const port = Number(url.port);
          expect(await tryConnect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })).to.match(
            /password/,
          );
          expect(await tryConnect({ host: dir, port, user: 'postgres', database: 'postgres' })).to.match(/password/);
          expect(
            await tryConnect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password: 'guess' }),
          ).to.match(/password authentication failed/);
          expect(await tryConnect({ connectionString: local.url })).to.equal('ok');
        } finally {
          await local.stop();
        }
        // The next start finds the same password.
        const again = await startLocalPostgres({ dir });
        try {
          expect(await tryConnect({ connectionString: again.url })).to.equal('ok');
        } finally {
          await again.stop();
        }
      }));

    it('puts a password on a cluster an older version made with trust, keeping its data', () =>
      withTempDir(async (root) => {
        chmodSync(root, 0o755);
        const dir = join(root, 'postgres');
        const old = await startPostgresServer({ dir, durable: true });
        try {
          await tryConnect({ connectionString: old.url });
          const client = new pg.Client({ connectionString: old.url });
          await client.connect();
          await client.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
          await client.end();
        } finally {
          await old.shutdown();
        }
        const local = await startLocalPostgres({ dir });
        try {
          const port = Number(new URL(local.url).port);
          expect(await tryConnect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })).to.match(
            /password/,
          );
          const admin = new URL(local.url);
          admin.pathname = '/postgres';
          const client = new pg.Client({ connectionString: admin.toString() });
          await client.connect();
          expect((await client.query('SELECT n FROM kept')).rows).to.deep.equal([{ n: 42 }]);
          await client.end();
        } finally {
          await local.stop();
        }
      }));
  });
});
