import { randomUUID } from 'node:crypto';
import { createRedis, keySlot, keysFromConfig, loadConfig, quitRedis } from '@aggregator/common';
import { EventSource, planEvents } from '@aggregator/load';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { produce } from './support/producer.js';
import { listStoredPairs } from './support/storedPairs.js';
import { SETUPS, withProcessStackOn } from './support/stores.js';
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
  /** One Redis restarted, or one master of the cluster SIGKILLed. */
  redisStrikes: Strike[];
  /** When Redis was struck (`performance.now()`). */
  redisStruckAt: number;
  /** On a cluster: from the SIGKILL until another node owned the dead master's slots. */
  failoverMs: number;
  /** Until Redis was whole again (restarted; on a cluster, the dead node back as a replica). */
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
 * points (restarted at once), one API replica at 30 % (restarted on its port), and Redis at 60 %:
 * one Redis with SIGTERM (so the AOF is complete), then started again on the same port and data
 * directory; on a cluster, the master of partition 0 with SIGKILL, then (once its replica took
 * over) started again, so it rejoins as a replica, as a supervisor would restart it.
 * Ends when every step has struck, or early when `over` aborts.
 */
async function superviseChaos(
  stack: ProcessStack,
  schedule: ChaosSchedule,
  over: AbortSignal,
  inFlight: ReadonlyMap<string, number>,
): Promise<ChaosFigures> {
  const figures: ChaosFigures = {
    workerKills: [],
    apiKills: [],
    redisStrikes: [],
    redisStruckAt: 0,
    failoverMs: 0,
    redisDownMs: 0,
    takeoversMs: [],
  };
  const config = loadConfig(stack.env);
  // Every partition's queue (one on one Redis unless the stack says otherwise).
  const queues = keysFromConfig(config).queues.map((q) => `${q.bullPrefix}:${q.queueName}`);
  const probe = createRedis(config, 'request', 'chaos-probe');
  probe.on('error', () => undefined);
  let redisEpoch = 0;
  const activeJobs = async () =>
    (await Promise.all(queues.map((q) => probe.llen(`${q}:active`)))).reduce((a, b) => a + b);

  /** Time until every job active right after the kill is gone (done jobs are removed from Redis). */
  const measureTakeover = async (killedAt: number) => {
    const epoch = redisEpoch;
    try {
      const active = (
        await Promise.all(queues.map(async (q) => (await probe.lrange(`${q}:active`, 0, -1)).map((id) => `${q}:${id}`)))
      ).flat();
      await waitUntil(
        async () => {
          const exists = await Promise.all(active.map((job) => probe.exists(job)));
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
      const jobsActive = await waitUntil(async () => (await activeJobs()) > 0, {
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
    redisEpoch++;
    await strikeRedis(() => {
      figures.redisStruckAt = performance.now();
      figures.redisStrikes.push({ handedOut: schedule.handedOut });
      redisStop.struck.give();
    });
    redisEpoch++;
    figures.redisDownMs = performance.now() - figures.redisStruckAt;
  };

  /** Strikes Redis, calls `struck` at the blow, and resolves once Redis is whole again. */
  const strikeRedis = async (struck: () => void) => {
    const cluster = stack.cluster;
    if (!cluster) {
      await stack.redis.stop();
      struck();
      await stack.restartRedis();
      return;
    }
    const slot = keySlot(queues[0] as string);
    const victim = await cluster.ownerOf(slot);
    await cluster.kill(victim);
    struck();
    await cluster.waitFailover(victim, slot);
    figures.failoverMs = performance.now() - figures.redisStruckAt;
    await cluster.restart(victim);
    await cluster.waitHealthy();
  };

  try {
    await Promise.all([killWorkers(), killApiAndRedis()]);
    return figures;
  } finally {
    schedule.releaseAll();
    await quitRedis(probe);
  }
}

for (const { name, store, redis } of SETUPS) {
  describe(`chaos (processes, ${name})`, function () {
    this.timeout(redis === 'cluster' ? 120_000 : 90_000);
    before(function () {
      store.require(this);
    });

    const redisDies = redis === 'cluster' ? 'a Redis master' : 'Redis';
    // Parallel writers on PostgreSQL: the more of them, the more races for the visible head.
    const workers = Math.max(3, store.writers);
    it(`stores every acknowledged event exactly once with exact counters while workers, an API and ${redisDies} die under load`, () =>
      withProcessStackOn(
        store,
        {
          redis,
          workers,
          apis: 2,
          distinctApiPorts: true,
          persistentRedis: true,
          env: {
            WORKER_LOCK_MS: String(LOCK_MS),
            WORKER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
            // On the cluster, a 200 must survive the loss of the master that took the job.
            ...(redis === 'cluster' ? { REDIS_WAIT_REPLICAS: '1' } : {}),
          },
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
          const refusals: Array<{ at: number; status: number; retryAfter: string | null }> = [];
          /** When each request got its 200 (`performance.now()`). */
          const acks: number[] = [];
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
              onRefused: (status, retryAfter) => refusals.push({ at: performance.now(), status, retryAfter }),
              onAcknowledged: () => acks.push(performance.now()),
              beforeBatch: (handedOut) => schedule.beforeBatch(handedOut),
            });
          } finally {
            over.abort();
            figures = await chaos;
          }
          const loadMs = performance.now() - started;

          // Drain with every process up.
          expect(stack.workers.filter((w) => w.running)).to.have.length(workers);
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
          const strikes = [...figures.workerKills, ...figures.apiKills, ...figures.redisStrikes];
          // Replies that refused a request once Redis was struck: the outage as producers saw it.
          const refusedAfterStrike = refusals.filter((r) => r.status === 503 && r.at >= figures.redisStruckAt);
          const lastRefusalMs = Math.max(0, ...refusedAfterStrike.map((r) => r.at - figures.redisStruckAt));
          const withoutRetryAfter = refusals.filter((r) => r.retryAfter === null);
          // The longest time without a 200 from the strike on: how long publishing was held up.
          const acksAfterStrike = [figures.redisStruckAt, ...acks.filter((t) => t >= figures.redisStruckAt)];
          const longestNo200Ms = Math.max(
            ...acksAfterStrike.slice(1).map((t, i) => t - (acksAfterStrike[i] as number)),
          );
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
              redis === 'cluster'
                ? `        masters SIGKILLed       ${figures.redisStrikes.length} (replica promoted after ${Math.round(figures.failoverMs)} ms, node back as a replica after ${Math.round(figures.redisDownMs)} ms)`
                : `        Redis restarts          ${figures.redisStrikes.length} (down ${Math.round(figures.redisDownMs)} ms)`,
              `        503s after the strike   ${refusedAfterStrike.length} (the last ${Math.round(lastRefusalMs)} ms after it; ${withoutRetryAfter.length} refusals without Retry-After)`,
              `        longest without a 200   ${Math.round(longestNo200Ms)} ms (from the strike on)`,
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
          expect(figures.redisStrikes).to.have.length(1);
          expect(withoutRetryAfter, 'refusals without Retry-After').to.deep.equal([]);
          // The failover was seen by producers as 503s, and the APIs recovered without a restart
          // (every request ended in a 200 from the replicas started before it).
          if (redis === 'cluster') expect(refusedAfterStrike.length, '503s during the failover').to.be.at.least(1);
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
