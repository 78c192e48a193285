import cluster, { type Worker } from 'node:cluster';
import { coerceError, createLogger, loadConfigOrExit } from '@aggregator/common';

/**
 * Runs `API_REPLICAS` API processes that share one port through node's cluster module (the
 * primary accepts connections and hands them out round-robin): N stateless replicas behind one
 * address without a load balancer. A replica that dies is replaced. SIGTERM/SIGINT stop every
 * replica gracefully; a second signal kills them.
 */
async function primary(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: 'api', replica: `${config.REPLICA_ID}-primary` });
  let stopping = false;
  const fork = (index: number): Worker => {
    const worker = cluster.fork({ REPLICA_ID: `${config.REPLICA_ID}-${index}` });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      logger.warn({ index, code, signal }, 'api replica died; starting a new one');
      setTimeout(() => fork(index), 500);
    });
    return worker;
  };
  for (let i = 0; i < config.API_REPLICAS; i++) fork(i);
  logger.info({ replicas: config.API_REPLICAS, port: config.PORT }, 'api cluster started');

  const onSignal = (signal: NodeJS.Signals) => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (stopping) {
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'stopping the api replicas');
    for (const w of workers) w.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

if (cluster.isPrimary) {
  primary().catch((e: unknown) => {
    process.stderr.write(`api cluster failed: ${coerceError(e).stack}\n`);
    process.exit(1);
  });
} else {
  await import('./main.js');
}
