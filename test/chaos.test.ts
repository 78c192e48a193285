import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKeys, createRedis, quitRedis } from '@aggregator/common';
import { EventSource, planEvents } from '@aggregator/load';
import { expect } from 'chai';
import { type ProcessStack, withProcessStack } from './support/processStack.js';
import { produce } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { waitUntil } from './support/waitUntil.js';

/** The load: at least 50,000 events, a fifth of them duplicates, paced to last the chaos out. */
const EVENTS = 125_000;
const EVENTS_PER_SECOND = 5_000;
const LOAD_MS = (EVENTS / EVENTS_PER_SECOND) * 1000;
const LOCK_MS = 2000;
const STALLED_INTERVAL_MS = 1000;

interface ChaosFigures {
  workerKills: number;
  apiKills: number;
  redisRestarts: number;
  redisDownMs: number;
  /** Per worker kill: time until every job active at the kill was done (not while Redis restarted). */
  takeoversMs: number[];
}

/**
 * Kills processes until `over` aborts: a random worker every 1–2 s (restarted at once), one API
 * replica once (restarted on its port), and Redis once (SIGTERM, so the AOF is complete, then
 * started again on the same port and data directory).
 */
async function superviseChaos(
  stack: ProcessStack,
  over: AbortSignal,
  inFlight: ReadonlyMap<string, number>,
): Promise<ChaosFigures> {
  const figures: ChaosFigures = { workerKills: 0, apiKills: 0, redisRestarts: 0, redisDownMs: 0, takeoversMs: [] };
  const pause = (ms: number) => sleep(ms, undefined, { signal: over }).catch(() => undefined);
  const keys = createKeys(stack.env.REDIS_PREFIX as string);
  const jobs = `${keys.queues[0]?.bullPrefix}:${keys.queues[0]?.queueName}`;
  const probe = createRedis(stack.redis.url, 'request', 'chaos-probe');
  probe.on('error', () => undefined);
  let redisEpoch = 0;

  /** Time until every job active right after the kill is gone (done jobs are removed from Redis). */
  const measureTakeover = async (killedAt: number) => {
    const epoch = redisEpoch;
    try {
      const active = await probe.lrange(`${jobs}:active`, 0, -1);
      await waitUntil(
        async () => {
          const exists = await Promise.all(active.map((id) => probe.exists(`${jobs}:${id}`)));
          return exists.every((n) => n === 0);
        },
        { timeoutMs: 30_000, intervalMs: 20, what: 'the jobs of a killed worker to be done' },
      );
      if (epoch === redisEpoch) figures.takeoversMs.push(performance.now() - killedAt);
    } catch {
      // Redis restarted meanwhile: the figure would measure the outage, not the takeover.
    }
  };

  const killWorkers = async () => {
    const measures: Promise<void>[] = [];
    let lastKill = performance.now();
    while (!over.aborted) {
      await pause(lastKill + 1000 + Math.random() * 1000 - performance.now());
      if (over.aborted) break;
      const running = stack.workers.filter((w) => w.running);
      const victim = running[Math.floor(Math.random() * running.length)];
      if (!victim) throw new Error('no worker left to kill');
      // Strike while jobs are active, so the kill has a fair chance of cutting one off.
      await waitUntil(async () => (await probe.llen(`${jobs}:active`)) > 0, { timeoutMs: 500, intervalMs: 2 }).catch(
        () => undefined,
      );
      await victim.kill();
      lastKill = performance.now();
      figures.workerKills++;
      measures.push(measureTakeover(lastKill));
      await stack.startWorker();
    }
    await Promise.all(measures);
  };

  const killApiAndRedis = async () => {
    await pause(LOAD_MS * 0.3);
    if (over.aborted) return;
    const index = Math.floor(Math.random() * stack.apis.length);
    // With requests in flight, so some producers lose a reply and must re-send.
    await waitUntil(() => (inFlight.get(stack.apiUrls[index] as string) ?? 0) > 0, {
      timeoutMs: 1000,
      intervalMs: 1,
    }).catch(() => undefined);
    await stack.apis[index]?.kill();
    figures.apiKills++;
    await stack.restartApi(index);

    await pause(LOAD_MS * 0.3);
    if (over.aborted) return;
    const down = performance.now();
    redisEpoch++;
    await stack.redis.stop();
    await stack.restartRedis();
    redisEpoch++;
    figures.redisRestarts++;
    figures.redisDownMs = performance.now() - down;
  };

  try {
    await Promise.all([killWorkers(), killApiAndRedis()]);
    return figures;
  } finally {
    await quitRedis(probe);
  }
}

describe('chaos (processes)', function () {
  this.timeout(90_000);

  it('stores every acknowledged event exactly once with exact counters while workers, an API and Redis die under load', () =>
    withProcessStack(
      {
        workers: 3,
        apis: 2,
        distinctApiPorts: true,
        persistentRedis: true,
        env: { WORKER_LOCK_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS) },
      },
      async (stack) => {
        const started = performance.now();
        const plan = planEvents({
          runId: `chaos-${randomUUID().slice(0, 8)}`,
          events: EVENTS,
          dup: 0.2,
          batch: 100,
          topics: 4,
        });
        const over = new AbortController();
        const inFlight = new Map<string, number>();
        const chaos = superviseChaos(stack, over.signal, inFlight);
        // Should the supervisor fail, stop the load too, so the failure is reported at once.
        const stopLoad = new AbortController();
        chaos.catch(() => stopLoad.abort());
        let load: Awaited<ReturnType<typeof produce>>;
        let figures: ChaosFigures;
        try {
          load = await produce({
            urls: stack.apiUrls,
            source: new EventSource(plan),
            concurrency: 4,
            eventsPerSecond: EVENTS_PER_SECOND,
            stop: stopLoad.signal,
            inFlight,
          });
        } finally {
          over.abort();
          figures = await chaos;
        }
        const loadMs = performance.now() - started;

        // Drain with every process up.
        expect(stack.workers.filter((w) => w.running)).to.have.length(3);
        expect(stack.apis.every((a) => a.running)).to.equal(true);
        await waitUntil(
          async () => {
            const { queue } = await stack.stats();
            return queue.waiting + queue.active + queue.delayed === 0;
          },
          { timeoutMs: 30_000, what: 'the queue to drain' },
        );
        // Read again: one reply takes the counters a moment before the queue counts, so a job
        // finishing in between could leave the reply that saw the queue empty a step behind.
        const stats = await stack.stats();
        const stored = await listStoredPairs(stack.apiUrl);
        const storedSet = new Set(stored);

        const lost = [...load.ackedPairs].filter((k) => !storedSet.has(k)).length;
        const strangers = [...storedSet].filter((k) => !load.sentPairs.has(k)).length;
        const doubleStored = stored.length - storedSet.size;
        const counterError =
          Math.abs(stats.unique_processed - storedSet.size) +
          Math.abs(stats.unique_processed - load.ackedPairs.size) +
          Math.abs(stats.received - stats.unique_processed - stats.duplicate_dropped);
        const logs = stack.workers.flatMap((w) => w.lines);
        const takeovers = figures.takeoversMs;

        console.log(
          [
            '      chaos figures:',
            `        events acknowledged     ${load.ackedEvents} (${load.ackedPairs.size} distinct pairs)`,
            `        requests                ${load.requests} (${load.attempts} attempts)`,
            `        retries                 ${load.retries} ${JSON.stringify(load.retriesByReason)}`,
            `        uncertain attempts      ${load.uncertainEvents} events (no reply or a 5xx; re-sent)`,
            `        received                ${stats.received} (acknowledged + ${stats.received - load.ackedEvents} enqueued twice)`,
            `        worker kills            ${figures.workerKills}`,
            `        API kills               ${figures.apiKills}`,
            `        Redis restarts          ${figures.redisRestarts} (down ${Math.round(figures.redisDownMs)} ms)`,
            `        stalled jobs taken over ${logs.filter((l) => l.includes('"job stalled')).length}`,
            `        job attempts retried    ${logs.filter((l) => l.includes('"job failed:')).length}`,
            `        max takeover            ${takeovers.length ? Math.round(Math.max(...takeovers)) : '-'} ms (${takeovers.length} kills measured)`,
            `        lost                    ${lost}`,
            `        double-stored           ${doubleStored}`,
            `        counter error           ${counterError}`,
            `        duration                ${Math.round(performance.now() - started)} ms (load ${Math.round(loadMs)} ms)`,
          ].join('\n'),
        );

        expect(figures).to.include({ apiKills: 1, redisRestarts: 1 });
        expect(figures.workerKills).to.be.at.least(10);
        expect(load.ackedEvents).to.equal(EVENTS);
        expect(load.sentPairs.size, 'every request started was acknowledged').to.equal(load.ackedPairs.size);
        expect(lost, 'acknowledged events missing from the store').to.equal(0);
        expect(strangers, 'stored events nobody sent').to.equal(0);
        expect(doubleStored, 'pairs stored twice').to.equal(0);
        expect(stats.unique_processed).to.equal(storedSet.size);
        expect(stats.unique_processed).to.equal(load.ackedPairs.size);
        expect(stats.received).to.equal(stats.unique_processed + stats.duplicate_dropped);
        expect(stats.received).to.be.within(load.ackedEvents, load.ackedEvents + load.uncertainEvents);
        expect(stats.queue.failed).to.equal(0);
        expect(stats.topics).to.have.length(4);
        expect(logs.filter((l) => l.includes('job failed for good'))).to.deep.equal([]);
        // Lock expiry, two stalled checks (mark, then move), a little work: well below 10 s.
        for (const ms of takeovers) expect(ms).to.be.below(10_000);
      },
    ));
});
