import { announceReady, coerceError, handleSignals, loadConfigOrExit } from '@aggregator/common';
import { composeWorker } from './composeWorker.js';

/** Entrypoint of one worker replica: `node worker/dist/main.js`. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const worker = composeWorker(config);
  // From the start: opening the store may retry for as long as PostgreSQL is down, and a signal
  // (or the loss of the launcher) must stop the worker then too.
  handleSignals(worker.logger, config.SHUTDOWN_TIMEOUT_MS, () => worker.close());
  await worker.start();
  announceReady({ service: 'worker' });
}

main().catch((e: unknown) => {
  process.stderr.write(`worker failed to start: ${coerceError(e).stack}\n`);
  process.exit(1);
});
