import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSecret } from './privateSecret.js';
import { type RedisServer, startRedisServer } from './redisServer.js';

/** The user the local stack's services sign in to its private Redis as. */
export const PRIVATE_REDIS_USER = 'aggregator';

/**
 * The local stack's private redis-server, in `dir` (its AOF), with no anonymous access: the
 * `default` user is off and the services sign in as `aggregator` with a new random password each
 * start. The ACL is in a redis.conf of mode 0600 in `dir` rather than on the command line, where
 * every local user could read it (`ps`); the password reaches the services in REDIS_URL, in their
 * environment, which only the stack's user may read.
 */
export async function startPrivateRedis(
  dir: string,
  echo: boolean | undefined,
  logLevel: 'warning' | 'notice',
): Promise<RedisServer> {
  const password = newSecret();
  const configFile = join(dir, 'users.conf');
  writeFileSync(configFile, `user default off\nuser ${PRIVATE_REDIS_USER} on >${password} ~* &* +@all\n`, {
    mode: 0o600,
  });
  chmodSync(configFile, 0o600);
  return startRedisServer({ dir, echo, logLevel, configFile, auth: { user: PRIVATE_REDIS_USER, password } });
}
