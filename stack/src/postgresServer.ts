import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ManagedChild } from './childProcess.js';
import { freePort } from './freePort.js';

export interface PostgresServerOptions {
  /** Where the cluster lives; a temp directory (removed by `stop`) when absent. */
  dir?: string;
  port?: number;
  echo?: boolean;
  /**
   * Sync to disk as production does. Off by default: a private server for tests and benchmarks
   * survives a crash of its own processes without fsync (the OS still has the pages), only an OS
   * crash could lose data, and on a shared 2-core machine the syncs would dominate every timing.
   */
  durable?: boolean;
  /**
   * The superuser's password: then every connection, over TCP or the socket, must give it
   * (scram-sha-256), and the cluster's directory is its owner's only. Without it any local user
   * may connect as the superuser (trust), which only tests' throw-away servers do.
   */
  password?: string;
}

export interface PostgresServer {
  /** URL of the `postgres` database, as the superuser `postgres` (with its password when it has one; loopback only). */
  readonly url: string;
  readonly port: number;
  /** Where the cluster lives (its data directory is `dir/data`). */
  readonly dir: string;
  /** The running postmaster; a new process after `start()`. */
  readonly child: ManagedChild;
  /** A new, empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT: sessions are cut, the cluster is left consistent), keeping the data. */
  shutdown(): Promise<void>;
  /** Starts the server again after `shutdown()`, on the same port and data; waits until it takes connections. */
  start(): Promise<void>;
  /** `shutdown()` then `start()`: what an operator's restart does to the sessions of the service. */
  restart(): Promise<void>;
  /** Fast shutdown, then removes the directory if it was a temp one. */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster: a crash; the next start recovers from the WAL. */
  kill(): Promise<void>;
}

/**
 * The directory of `initdb` and `postgres`: `POSTGRES_BIN_DIR`, else Debian's
 * `/usr/lib/postgresql/<newest version>/bin`, else the PATH.
 */
export function postgresBinDir(): string {
  const explicit = process.env.POSTGRES_BIN_DIR;
  if (explicit) return explicit;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb) return initdb.slice(0, initdb.lastIndexOf('/'));
  } catch {
    // not on the PATH either
  }
  throw new Error(
    'PostgreSQL was not found (no initdb under /usr/lib/postgresql/*/bin or on the PATH). Install it ' +
      '(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), or set ' +
      'POSTGRES_BIN_DIR to its bin directory, or DATABASE_URL / TEST_DATABASE_URL to a running server.',
  );
}

/** True when `postgresBinDir()` would find the binaries. */
export function hasPostgresBinaries(): boolean {
  try {
    postgresBinDir();
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user (Debian's package creates it). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, PostgreSQL needs a "postgres" user to run as; none exists');
  }
}

/**
 * Starts a private PostgreSQL: `initdb` into a new directory, then `postgres` on a free port of
 * 127.0.0.1 (its socket in that directory too, so nothing system-wide is touched).
 */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'aggregator-pg-'));
  mkdirSync(dir, { recursive: true });
  if (user) chownSync(dir, user.uid, user.gid);
  // The socket lives here: with a password, no other local user may even reach it.
  if (options.password !== undefined) chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const existed = existsSync(join(data, 'PG_VERSION'));
  if (!existed) {
    const auth =
      options.password === undefined
        ? ['--auth=trust']
        : ['--auth=scram-sha-256', `--pwfile=${writePasswordFile(dir, options.password, user)}`];
    try {
      execFileSync(
        join(bin, 'initdb'),
        ['-D', data, '-U', 'postgres', ...auth, '--encoding=UTF8', '--no-locale', '--no-sync'],
        { stdio: 'pipe', ...user },
      );
    } finally {
      rmSync(join(dir, PASSWORD_FILE), { force: true });
    }
  }
  const port = options.port ?? (await freePort());
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    max_connections: '200',
    ...(options.durable ? {} : { fsync: 'off', full_page_writes: 'off' }),
  };
  const launch = async () => {
    const launched = new ManagedChild({
      name: `postgres:${port}`,
      command: join(bin, 'postgres'),
      args: ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      echo: options.echo,
      ...user,
    });
    try {
      await launched.waitFor(/database system is ready to accept connections/, 30_000);
    } catch (e: unknown) {
      await launched.kill();
      throw e;
    }
    return launched;
  };
  let child = await launch();
  const signIn = options.password === undefined ? 'postgres' : `postgres:${encodeURIComponent(options.password)}`;
  const url = `postgres://${signIn}@127.0.0.1:${port}/postgres`;
  if (existed && options.password !== undefined) {
    await requirePassword(data, port, options.password, user).catch(async (e: unknown) => {
      await child.stop(15_000, 'SIGINT');
      throw e;
    });
  }
  const shutdown = () => child.stop(15_000, 'SIGINT');
  const start = async () => {
    if (child.running) throw new Error(`postgres:${port} is already running`);
    child = await launch();
  };
  return {
    url,
    port,
    dir,
    get child() {
      return child;
    },
    createDatabase: (name) => createDatabase(url, name),
    shutdown,
    start,
    restart: () => shutdown().then(start),
    stop: () =>
      shutdown().finally(() => {
        if (temporary) rmSync(dir, { recursive: true, force: true });
      }),
    kill: () => child.kill(),
  };
}

/**
 * A cluster made with trust authentication (by an older version of the stack): gives the superuser
 * `password` and makes every connection give it (scram-sha-256), then reloads the configuration.
 * A cluster that already asks for passwords is left as it is.
 */
async function requirePassword(
  data: string,
  port: number,
  password: string,
  user: { uid: number; gid: number } | undefined,
): Promise<void> {
  const hbaPath = join(data, 'pg_hba.conf');
  const hba = readFileSync(hbaPath, 'utf8');
  const rules = hba.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  if (!rules.some((line) => /\strust\s*$/.test(line))) return;
  const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await client.connect();
  try {
    // ALTER ROLE takes no parameters; the password is a literal with its quotes doubled.
    await client.query(`ALTER ROLE postgres PASSWORD '${password.replaceAll("'", "''")}'`);
    writeFileSync(hbaPath, hba.replace(/(\s)trust(\s*)$/gm, '$1scram-sha-256$2'));
    if (user) chownSync(hbaPath, user.uid, user.gid);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

/** initdb's --pwfile, for the moment initdb reads it (removed right after). */
const PASSWORD_FILE = 'initdb-password';

function writePasswordFile(dir: string, password: string, user: { uid: number; gid: number } | undefined): string {
  const path = join(dir, PASSWORD_FILE);
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(path, user.uid, user.gid);
  return path;
}

/**
 * Creates database `name` on the server of `adminUrl` (whose user may create databases) and
 * returns the URL of the new database.
 */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await runAsAdmin(adminUrl, `CREATE DATABASE ${plainName(name)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` on the server of `adminUrl`, cutting the connections still open to it. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await runAsAdmin(adminUrl, `DROP DATABASE IF EXISTS ${plainName(name)} WITH (FORCE)`);
}

// Database names cannot be query parameters: accept only names that need no quoting.
function plainName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  return name;
}

async function runAsAdmin(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
