import cluster from 'node:cluster';
import { announceReady, coerceError, handleSignals, loadConfigOrExit } from '@aggregator/common';
import { composeApi } from './composeApi.js';

/** Entrypoint of one API replica: `node api/dist/main.js`. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const api = await composeApi(config);
  const server = await api.listen();
  const address = server.address();
  api.logger.info({ address }, 'api listening');
  if (address && typeof address === 'object') announceReady({ service: 'api', address });

  // Under api/dist/cluster.js the primary sends SIGTERM; SIGINT from a terminal is ignored there.
  const signals: NodeJS.Signals[] = cluster.isWorker ? ['SIGTERM'] : ['SIGTERM', 'SIGINT'];
  handleSignals(
    api.logger,
    config.SHUTDOWN_TIMEOUT_MS,
    () => api.close(),
    signals,
    // A replica's parent is the cluster primary; node's cluster module ends the replica when it goes.
    { withParent: !cluster.isWorker },
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`api failed to start: ${coerceError(e).stack}\n`);
  process.exit(1);
});
