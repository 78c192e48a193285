import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedisServer } from '@aggregator/stack';
import { expect } from 'chai';
import { interpolate } from './support/composeMerge.js';
import { commandOf, environmentOf, readCompose } from './support/deployFiles.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { makeEvent, withStack, withTempDir } from './support/withStack.js';

const run = promisify(execFile);
const REDIS_PASSWORD = 'compose-redis-password-0123';

/**
 * The compose file's Redis, run for real: redis-server with the `command` of the `redis` service
 * (its ACL users included), its health check, and the services signing in with the REDIS_URL the
 * compose file gives them (test/compose.test.ts checks the file statically).
 */
describe("docker-compose.yml's Redis ACL, run", () => {
  before(requireTool(REDIS_SERVER));

  it('refuses anonymous clients, passes its health check, and carries the whole pipeline as its user', () =>
    withTempDir(async (dir) => {
      const redis = readCompose().services.redis ?? {};
      const [binary, ...options] = commandOf(redis).map((word) => interpolate(word, { REDIS_PASSWORD }));
      expect(binary).to.equal('redis-server');
      const url = new URL(
        interpolate(environmentOf(readCompose().services.api ?? {}).REDIS_URL ?? '', { REDIS_PASSWORD }),
      );
      const server = await startRedisServer({
        dir: join(dir, 'redis'),
        args: options,
        auth: { user: url.username, password: decodeURIComponent(url.password) },
        logLevel: 'warning',
      });
      try {
        const cli = (env: Record<string, string>, ...args: string[]) =>
          run('redis-cli', ['-p', String(server.port), ...args], { env: { ...process.env, ...env } });
        expect((await cli({}, 'ping')).stdout).to.match(/NOAUTH/);
        expect((await cli({}, 'get', 'x')).stdout).to.match(/NOAUTH/);

        // The health check as compose runs it, on this server's port.
        const check = [redis.healthcheck?.test ?? []]
          .flat()
          .slice(1)
          .join(' ')
          .replace('redis-cli', `redis-cli -p ${server.port}`);
        const sh = (env: Record<string, string>) => run('sh', ['-c', check], { env: { ...process.env, ...env } });
        const auth = interpolate(environmentOf(redis).REDISCLI_AUTH ?? '', { REDIS_PASSWORD });
        await sh({ REDISCLI_AUTH: auth });
        let failed = false;
        await sh({ REDISCLI_AUTH: 'not-the-password' }).catch(() => {
          failed = true;
        });
        expect(failed, 'the health check fails with a wrong password').to.equal(true);

        // API and worker with the compose REDIS_URL (host and port this server's).
        url.host = `127.0.0.1:${server.port}`;
        await withStack({ env: { REDIS_URL: url.href } }, async (stack) => {
          const events = [makeEvent(), makeEvent()];
          expect((await stack.publish([...events, events[0]])).statusCode).to.equal(200);
          expect(await stack.settle(3)).to.include({ unique_processed: 2, duplicate_dropped: 1 });
        });
      } finally {
        await server.stop();
      }
    }));
});
