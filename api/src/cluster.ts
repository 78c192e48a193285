import cluster, { type Worker } from 'node:cluster';
import {
  announceReady,
  coerceError,
  createLogger,
  isReadyMessage,
  loadConfigOrExit,
  onParentGone,
} from '@aggregator/common';

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
  const live = new Set<Worker>();
  // The cluster is ready once every replica has announced itself; replacements do not count.
  const ready = new Set<number>();
  const fork = (index: number, crashes: number): void => {
    if (stopping) return;
    const worker = cluster.fork({ REPLICA_ID: `${config.REPLICA_ID}-${index}` });
    const started = Date.now();
    live.add(worker);
    worker.on('message', (message: unknown) => {
      if (!isReadyMessage(message) || ready.size === config.API_REPLICAS) return;
      ready.add(index);
      if (ready.size === config.API_REPLICAS) announceReady(message);
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
      }
      // Back off a replica that keeps crashing at start-up: 0.5 s, 1 s, 2 s … up to 30 s.
      const streak = Date.now() - started < 10_000 ? crashes + 1 : 0;
      const delay = Math.min(500 * 2 ** streak, 30_000);
      logger.warn({ index, code, signal, restartInMs: delay }, 'api replica died; starting a new one');
      setTimeout(() => fork(index, streak), delay);
    });
  };
  for (let i = 0; i < config.API_REPLICAS; i++) fork(i, 0);
  logger.info({ replicas: config.API_REPLICAS, port: config.PORT }, 'api cluster started');

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const w of live) w.process.kill('SIGKILL');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'stopping the api replicas');
    if (live.size === 0) process.exit(0);
    // Replicas ignore SIGINT (a terminal's Ctrl-C reaches the whole process group); the primary
    // sends each one SIGTERM exactly once.
    for (const w of live) w.process.kill('SIGTERM');
    setTimeout(() => {
      logger.error('replicas did not stop in time; killing them');
      for (const w of live) w.process.kill('SIGKILL');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 1000).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A launcher that was SIGKILLed cannot stop us: stop as on its SIGTERM.
  onParentGone(() => {
    if (!stopping) onSignal('SIGTERM');
  });
}

if (cluster.isPrimary) {
  primary().catch((e: unknown) => {
    process.stderr.write(`api cluster failed: ${coerceError(e).stack}\n`);
    process.exit(1);
  });
} else {
  // The primary coordinates shutdown: a terminal's SIGINT would otherwise reach every replica too,
  // and the primary's SIGTERM would then count as a second, forcing signal.
  process.on('SIGINT', () => {});
  await import('./main.js');
}
