import { parseArgs } from 'node:util';
import { integerOption } from '@aggregator/common';
import { exposureWarning, formatAddress, reachOf } from './listenAddress.js';
import { type LocalStack, startLocalStack } from './localStack.js';

const HELP = `npm start -- [options]

Runs the service locally as plain processes: a private redis-server (AOF on, data under
--data) unless REDIS_URL is set, API replicas on one port, and worker processes sharing one
store: a SQLite file, or a PostgreSQL database (--store postgres). Ctrl-C stops everything
cleanly; the next start finds all earlier data again. One stack per data directory: another
start on the same --data is refused while this one runs.

Options:
  --api N        API replicas sharing the port (node cluster)    default 1
  --workers M    worker processes                                default 1
  --port P       HTTP port                                       default PORT or 8080
  --host H       interface the API listens on                    default HOST or 127.0.0.1
                 (0.0.0.0: every interface; set API_TOKEN and READ_TOKEN then)
  --data DIR     data directory (SQLite file, Redis AOF, private
                 PostgreSQL cluster)                             default ./data
  --store S      sqlite: one file under --data; postgres: the
                 database at DATABASE_URL when set, else a
                 private PostgreSQL under --data/postgres        default sqlite,
                                                                 postgres when
                                                                 DATABASE_URL is set
  -h, --help     this text

Every other setting comes from the environment (see the README's configuration table).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: '1' },
      workers: { type: 'string', default: '1' },
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: process.env.HOST || '127.0.0.1' },
      data: { type: 'string', default: './data' },
      store: { type: 'string', default: process.env.DATABASE_URL ? 'postgres' : 'sqlite' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (values.store !== 'sqlite' && values.store !== 'postgres') {
    throw new Error(`--store must be sqlite or postgres, got "${values.store}"`);
  }
  // The services read DATABASE_URL from the environment they inherit: it would win over SQLite.
  if (values.store === 'sqlite' && process.env.DATABASE_URL) {
    throw new Error('--store sqlite, but DATABASE_URL is set (it selects PostgreSQL): unset it');
  }
  // Handlers first: a signal that arrives while the stack starts (or just as the banner is
  // printed) must stop it cleanly too, not kill the launcher and leave its processes behind.
  let stack: LocalStack | undefined;
  let stopping = false;
  const stop = (running: LocalStack) =>
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write('\nstopping…\n');
    if (stack) void stop(stack);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stack = await startLocalStack({
    apis: integerOption('api', values.api, 1, 64),
    workers: integerOption('workers', values.workers, 1, 64),
    port: integerOption('port', values.port, 1, 65535),
    host: values.host,
    dataDir: values.data,
    redisUrl: process.env.REDIS_URL || undefined,
    store: values.store,
    databaseUrl: process.env.DATABASE_URL || undefined,
    echo: true,
  });
  if (stopping) {
    await stop(stack);
    return;
  }
  process.stdout.write(
    `\naggregator is up on ${stack.url} (listening on ${formatAddress(stack.address)}, ${reachOf(stack.address.address)}; ` +
      `redis ${withoutPassword(stack.redisUrl)}${stack.postgres ? `, postgres ${withoutPassword(stack.postgres.url)}` : ''}); Ctrl-C stops it\n\n`,
  );
  const warning = exposureWarning(stack.address, {
    apiToken: process.env.API_TOKEN,
    readToken: process.env.READ_TOKEN,
  });
  if (warning) process.stderr.write(`${warning}\n\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

/** A URL as printed: its password, if any, replaced by `***` (the services have it in their environment). */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
