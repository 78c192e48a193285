import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { ManagedChild } from './childProcess.js';
import { freePort } from './freePort.js';

export interface RedisServerOptions {
  /** Data directory (AOF files); persistence is off when absent. */
  dir?: string;
  port?: number;
  echo?: boolean;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly child: ManagedChild;
  /** SHUTDOWN via SIGTERM: Redis writes its AOF and exits. */
  stop(): Promise<void>;
  /** SIGKILL: no chance to flush. */
  kill(): Promise<void>;
}

/** Finds `redis-server` or explains how to install it. */
export function redisServerBinary(): string {
  const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return binary;
  } catch {
    throw new Error(
      `"${binary}" was not found. Install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server; ` +
        'macOS: brew install redis), or set REDIS_URL to a running Redis, or REDIS_SERVER_BIN to the binary.',
    );
  }
}

/**
 * Starts a private `redis-server` on a free port (or `options.port`), configured as the service
 * needs it: `noeviction`, and AOF (`appendfsync everysec`) when a data directory is given.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary();
  const port = options.port ?? (await freePort());
  const persistence = options.dir
    ? ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const child = new ManagedChild({
    name: `redis:${port}`,
    command: binary,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--maxmemory-policy', 'noeviction', ...persistence],
    echo: options.echo,
  });
  await child.waitFor(/Ready to accept connections/, 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    stop: () => child.stop(),
    kill: () => child.kill(),
  };
}
