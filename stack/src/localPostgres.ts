import { join } from 'node:path';
import { coerceError } from '@aggregator/common';
import { createDatabase, type PostgresServer, startPostgresServer } from './postgresServer.js';
import { keptSecret, newSecret, privateDir } from './privateSecret.js';

/**
 * Where the private server's superuser password is kept (mode 0600, in the cluster's directory,
 * itself 0700): made at the first start, the cluster's for good.
 */
const PASSWORD_FILE = 'superuser-password';

/** The database the local stack keeps its events in, on its private server. */
const DATABASE = 'aggregator';

export interface LocalPostgres {
  /** `DATABASE_URL` for the services. */
  readonly url: string;
  /** The private server, or undefined when the stack uses a given `DATABASE_URL`. */
  readonly server: PostgresServer | undefined;
  /** Stops the private server (fast shutdown; its data stays), if there is one. */
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** Use this database instead of starting a private server. */
  databaseUrl?: string;
  /** The private server's cluster lives here (kept between runs); a temp directory when absent. */
  dir?: string;
  echo?: boolean;
}

/**
 * The PostgreSQL of `npm start -- --store postgres` and `npm run bench -- --store postgres`: the
 * given `DATABASE_URL`, or a private server (`initdb` on first use, then `postgres` on a free port
 * of 127.0.0.1) with a database `aggregator`, created if missing. Its superuser needs a random
 * password (scram-sha-256), kept beside the cluster, readable by the stack's user only: with trust
 * authentication any local user could connect as superuser and run `COPY … PROGRAM` as that user. The private server syncs every
 * commit to disk, as a production server does and as SQLite does with its default
 * `SQLITE_SYNCHRONOUS=FULL`. Workers create the schema.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  if (options.databaseUrl) return { url: options.databaseUrl, server: undefined, stop: async () => {} };
  let server: PostgresServer;
  try {
    server = await startPostgresServer({
      dir: options.dir,
      durable: true,
      echo: options.echo,
      password: options.dir ? keptSecret(join(privateDir(options.dir), PASSWORD_FILE)) : newSecret(),
    });
  } catch (e: unknown) {
    const where = options.dir ? ` in ${options.dir}` : '';
    throw new Error(
      `could not start a private PostgreSQL${where}: ${coerceError(e).message}\n` +
        '(as root it runs as the "postgres" user, which must be able to enter every directory above ' +
        'it; or set DATABASE_URL to a server of your own)',
    );
  }
  try {
    await createDatabase(server.url, DATABASE).catch((e: unknown) => {
      // 42P04: duplicate_database, i.e. a previous run created it.
      if ((e as { code?: unknown }).code !== '42P04') throw e;
    });
  } catch (e: unknown) {
    await server.stop();
    throw e;
  }
  const url = new URL(server.url);
  url.pathname = `/${DATABASE}`;
  return { url: url.toString(), server, stop: () => server.stop() };
}

/** Where `npm start` keeps its private PostgreSQL, under its data directory. */
export function localPostgresDir(dataDir: string): string {
  return join(dataDir, 'postgres');
}
