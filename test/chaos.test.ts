import { randomUUID } from 'node:crypto';
import { createKeys, createRedis, quitRedis } from '@aggregator/common';
import { EventSource, planEvents } from '@aggregator/load';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { produce } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { waitUntil } from './support/waitUntil.js';

/** The load: at least 50,000 events, a fifth of them duplicates, paced so a kill finds jobs active. */
const EVENTS = 60_000;
const EVENTS_PER_SECOND = 5_000;
const LOCK_MS = 2000;
const STALLED_INTERVAL_MS = 1000;
/** Worker kills, spread evenly over the load (about one every 1.1 s at the pace above). */
const WORKER_KILLS = 10;
/** How far the load may run past a step of the chaos that has not struck yet. */
const SLACK_EVENTS = 2_000;

interface Strike {
  /** Events the producer had handed out when the step struck (below EVENTS: load still in flight). */
  handedOut: number;
  /** Jobs were active when a worker was killed, so the kill had a fair chance of cutting one off. */
  jobsActive?: boolean;
}

interface ChaosFigures {
  workerKills: Strike[];
  apiKills: Strike[];
  redisRestarts: Strike[];
  redisDownMs: number;
  /** Per worker kill: time until every job active at the kill was done (not while Redis restarted). */
  takeoversMs: number[];
}

/** A signal that can be given once and awaited any number of times. */
function latch(): { given: Promise<void>; give: () => void } {
  let give = () => {};
  const given = new Promise<void>((resolve) => {
    give = resolve;
  });
  return { given, give };
}

/** One step of the chaos, placed at `at` events of the load. */
interface Step {
  at: number;
  /** The supervisor is ready to strike (the load waits for this at `at`). */
  armed: ReturnType<typeof latch>;
  /** The step has struck (the load waits for this `SLACK_EVENTS` past `at`). */
  struck: ReturnType<typeof latch>;
}

/**
 * Where the load stands, in events handed out, and the chaos steps placed on it. Steps are placed
 * on the load's progress rather than on the clock, so a slow machine gets the same chaos as a fast
 * one. The load waits at a step until the supervisor is ready for it (a worker restart may be slower
 * than the load), then runs on, so the step strikes while requests are flowing; and it waits
 * `SLACK_EVENTS` past a step until the step has struck, so every step strikes before the load ends.
 */
class ChaosSchedule {
  handedOut = 0;
  readonly #steps: Step[] = [];

  place(at: number): Step {
    const step = { at, armed: latch(), struck: latch() };
    this.#steps.push(step);
    return step;
  }

  /** For the producer (`beforeBatch`): records the progress, and holds the load at a step. */
  async beforeBatch(handedOut: number): Promise<void> {
    this.handedOut = handedOut;
    for (const step of this.#steps) {
      if (handedOut >= step.at) await step.armed.given;
      if (handedOut >= step.at + SLACK_EVENTS) await step.struck.given;
    }
  }

  /** Resolves true once the load has reached `at` events, false if `over` aborts first. */
  async reached(at: number, over: AbortSignal): Promise<boolean> {
    await waitUntil(() => this.handedOut >= at || over.aborted, {
      timeoutMs: 120_000,
      intervalMs: 5,
      what: `the load to reach ${at} events`,
    });
    return !over.aborted;
  }

  /** Lets the load go on whatever happened to the steps (the supervisor has ended). */
  releaseAll(): void {
    for (const step of this.#steps) {
      step.armed.give();
      step.struck.give();
    }
  }
}

/**
 * Kills processes as the load progresses: a random worker at each of WORKER_KILLS evenly spaced
 * points (restarted at once), one API replica at 30 % (restarted on its port), and Redis at 60 %
 * (SIGTERM, so the AOF is complete, then started again on the same port and data directory).
 * Ends when every step has struck, or early when `over` aborts.
 */
async function superviseChaos(
  stack: ProcessStack,
  schedule: ChaosSchedule,
  over: AbortSignal,
  inFlight: ReadonlyMap<string, number>,
): Promise<ChaosFigures> {
  const figures: ChaosFigures = { workerKills: [], apiKills: [], redisRestarts: [], redisDownMs: 0, takeoversMs: [] };
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
    const steps = Array.from({ length: WORKER_KILLS }, (_, i) =>
      schedule.place(Math.round(((i + 1) * EVENTS) / (WORKER_KILLS + 1))),
    );
    const measures: Promise<void>[] = [];
    for (const step of steps) {
      step.armed.give();
      if (!(await schedule.reached(step.at, over))) break;
      const running = stack.workers.filter((w) => w.running);
      const victim = running[Math.floor(Math.random() * running.length)];
      if (!victim) throw new Error('no worker left to kill');
      // Strike while jobs are active, so the kill has a fair chance of cutting one off.
      const jobsActive = await waitUntil(async () => (await probe.llen(`${jobs}:active`)) > 0, {
        timeoutMs: 2000,
        intervalMs: 2,
      }).catch(() => false);
      await victim.kill();
      const killedAt = performance.now();
      figures.workerKills.push({ handedOut: schedule.handedOut, jobsActive });
      step.struck.give();
      measures.push(measureTakeover(killedAt));
      await stack.startWorker();
    }
    await Promise.all(measures);
  };

  const killApiAndRedis = async () => {
    const apiAt = EVENTS * 0.3;
    const redisAt = EVENTS * 0.6;
    const apiKill = schedule.place(apiAt);
    const redisStop = schedule.place(redisAt);
    apiKill.armed.give();
    redisStop.armed.give();
    if (!(await schedule.reached(apiAt, over))) return;
    const index = Math.floor(Math.random() * stack.apis.length);
    // With requests in flight, so some producers lose a reply and must re-send.
    await waitUntil(() => (inFlight.get(stack.apiUrls[index] as string) ?? 0) > 0, {
      timeoutMs: 1000,
      intervalMs: 1,
    }).catch(() => undefined);
    await stack.apis[index]?.kill();
    figures.apiKills.push({ handedOut: schedule.handedOut });
    apiKill.struck.give();
    await stack.restartApi(index);

    if (!(await schedule.reached(redisAt, over))) return;
    const down = performance.now();
    redisEpoch++;
    await stack.redis.stop();
    figures.redisRestarts.push({ handedOut: schedule.handedOut });
    redisStop.struck.give();
    await stack.restartRedis();
    redisEpoch++;
    figures.redisDownMs = performance.now() - down;
  };

  try {
    await Promise.all([killWorkers(), killApiAndRedis()]);
    return figures;
  } finally {
    schedule.releaseAll();
    await quitRedis(probe);
  }
}

for (const store of STORES) {
  describe(`chaos (processes, ${store.name})`, function () {
    this.timeout(90_000);
    before(function () {
      store.require(this);
    });

    it('stores every acknowledged event exactly once with exact counters while workers, an API and Redis die under load', () =>
      withProcessStackOn(
        store,
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
          const schedule = new ChaosSchedule();
          const chaos = superviseChaos(stack, schedule, over.signal, inFlight);
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
              beforeBatch: (handedOut) => schedule.beforeBatch(handedOut),
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
          const strikes = [...figures.workerKills, ...figures.apiKills, ...figures.redisRestarts];
          const killsWithJobsActive = figures.workerKills.filter((k) => k.jobsActive).length;

          console.log(
            [
              '      chaos figures:',
              `        events acknowledged     ${load.ackedEvents} (${load.ackedPairs.size} distinct pairs)`,
              `        requests                ${load.requests} (${load.attempts} attempts)`,
              `        retries                 ${load.retries} ${JSON.stringify(load.retriesByReason)}`,
              `        uncertain attempts      ${load.uncertainEvents} events (no reply or a 5xx; re-sent)`,
              `        received                ${stats.received} (acknowledged + ${stats.received - load.ackedEvents} enqueued twice)`,
              `        worker kills            ${figures.workerKills.length} (${killsWithJobsActive} with jobs active)`,
              `        API kills               ${figures.apiKills.length}`,
              `        Redis restarts          ${figures.redisRestarts.length} (down ${Math.round(figures.redisDownMs)} ms)`,
              `        last strike             at ${Math.max(...strikes.map((k) => k.handedOut))} of ${EVENTS} events sent`,
              `        stalled jobs taken over ${logs.filter((l) => l.includes('"job stalled')).length}`,
              `        job attempts retried    ${logs.filter((l) => l.includes('"job failed:')).length}`,
              `        max takeover            ${takeovers.length ? Math.round(Math.max(...takeovers)) : '-'} ms (${takeovers.length} kills measured)`,
              `        lost                    ${lost}`,
              `        double-stored           ${doubleStored}`,
              `        counter error           ${counterError}`,
              `        duration                ${Math.round(performance.now() - started)} ms (load ${Math.round(loadMs)} ms)`,
            ].join('\n'),
          );

          expect(figures.workerKills).to.have.length(WORKER_KILLS);
          expect(figures.apiKills).to.have.length(1);
          expect(figures.redisRestarts).to.have.length(1);
          // Every kill struck while the load was being sent, and kills did cut into active work.
          for (const strike of strikes) expect(strike.handedOut, 'events sent at a strike').to.be.below(EVENTS);
          expect(killsWithJobsActive, 'worker kills that found jobs active').to.be.at.least(1);
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
}
