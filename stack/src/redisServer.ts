import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { ManagedChild } from './childProcess.js';
import { freePort } from './freePort.js';

export interface RedisServerOptions {
  /** Data directory (AOF files); persistence is off when absent. */
  dir?: string;
  port?: number;
  echo?: boolean;
  /** Redis's own `loglevel`; `notice` by default. */
  logLevel?: 'warning' | 'notice';
  /**
   * A user that clients sign in as: the readiness check does, and `url` carries it. The server
   * must define it (`configFile` or `args`); `startRedisServer` does not.
   */
  auth?: RedisAuth;
  /** A redis.conf read before the command-line options (e.g. ACL users, kept off `ps`). */
  configFile?: string;
  /** More redis-server options, after the others. */
  args?: string[];
}

/** A Redis ACL user and its password. */
export interface RedisAuth {
  user: string;
  password: string;
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

/** Redis's `loglevel` for the service's LOG_LEVEL: Redis's notices are info lines. */
export function redisLogLevel(logLevel: string | undefined): 'warning' | 'notice' {
  return ['warn', 'error', 'fatal', 'silent'].includes(logLevel ?? '') ? 'warning' : 'notice';
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
    args: [
      ...(options.configFile ? [options.configFile] : []),
      ...['--port', String(port), '--bind', '127.0.0.1', '--maxmemory-policy', 'noeviction'],
      ...['--loglevel', options.logLevel ?? 'notice', ...persistence],
      ...(options.args ?? []),
    ],
    echo: options.echo,
  });
  await waitForPong(child, port, 10_000, options.auth);
  const signIn = options.auth
    ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.password)}@`
    : '';
  return {
    url: `redis://${signIn}127.0.0.1:${port}`,
    port,
    child,
    stop: () => child.stop(),
    kill: () => child.kill(),
  };
}

/**
 * Pings until Redis answers PONG (not `-LOADING`, while it reads its AOF): readiness that does not
 * depend on its log level. Rejects when the server exits first or after `timeoutMs`.
 */
async function waitForPong(child: ManagedChild, port: number, timeoutMs: number, auth?: RedisAuth): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (child.running) {
    last = await ping(port, auth).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (last === '+PONG') return;
    if (Date.now() > deadline)
      throw new Error(`${child.name}: no PONG within ${timeoutMs} ms (${last})\n${child.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { code, signal } = await child.exited;
  throw new Error(`${child.name} exited (code ${code}, signal ${signal}) before answering PING\n${child.tail()}`);
}

/** The RESP array of a command (safe for any bytes in its arguments, unlike an inline command). */
function resp(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
}

/**
 * One PING on a fresh connection, signed in first with `auth`; resolves with the first line of the
 * PING's reply (or of a failed AUTH's).
 */
function ping(port: number, auth?: RedisAuth): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    let skip = auth ? 1 : 0;
    socket.setTimeout(1000, () => socket.destroy(new Error('PING timed out')));
    socket.on('connect', () => socket.write(`${auth ? resp('AUTH', auth.user, auth.password) : ''}${resp('PING')}`));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      for (let end = reply.indexOf('\r\n'); end >= 0; end = reply.indexOf('\r\n')) {
        const line = reply.slice(0, end);
        reply = reply.slice(end + 2);
        if (skip > 0 && line === '+OK') {
          skip--;
          continue;
        }
        socket.destroy();
        return resolve(line);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('connection closed without a reply')));
  });
}
