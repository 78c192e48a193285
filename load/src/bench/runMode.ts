import { randomUUID } from 'node:crypto';
import type { LocalStack } from '@aggregator/stack';
import type { EventStoreReader } from '@aggregator/store';
import { createEventFactory, type IdStyle } from './eventFactory.js';
import { type LockWaitShare, startLockWaitSampler } from './lockWaitSampler.js';
import { type CpuSample, maxSeq, sampleCpu, storedLagMs } from './measure.js';
import type { RedisNodeCpu, RedisNodes } from './redisNodes.js';
import { runLoad } from './runLoad.js';
import { openBenchStreams, type StreamLoadResult } from './streamLoad.js';

/**
 * One bench mode on a running stack: sends its events, waits until every one is stored and
 * counted, and measures throughput, latency, lag, exactness and the CPU each part spent.
 */

export interface ModeResult {
  mode: string;
  events: number;
  requests: number;
  errors: number;
  eventsPerSecond: number;
  publishP50Ms: number;
  publishP99Ms: number;
  /** Publish → stored, from the time each body was built: only in modes that build it at send time. */
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  exact: boolean;
  detail: string;
  /**
   * CPU microseconds per event spent by each part (load is the generator, this process; redis is
   * every redis-server, replicas included).
   */
  cpuUsPerEvent: CpuSample & { total: number };
  /** Each redis-server's share of `cpuUsPerEvent.redis`. */
  redisNodes: RedisNodeCpu[];
  /**
   * PostgreSQL: the share of the writers' transaction time spent waiting on a lock
   * (`pg_stat_activity.wait_event_type = 'Lock'`), sampled while the mode ran.
   */
  lockWait?: LockWaitShare;
  /** Stream mode: what the streams received, and the API's CPU per delivered event. */
  streams?: StreamLoadResult & { apiCpuUsPerDelivered: number };
}

/** What a mode needs of the stack: its processes, and a reader of its store. */
export interface Bench {
  stack: LocalStack;
  store: EventStoreReader;
  redisNodes: RedisNodes;
}

async function stats(url: string) {
  const res = await fetch(`${url}/stats`);
  return (await res.json()) as {
    received: number;
    unique_processed: number;
    duplicate_dropped: number;
    queue: { waiting: number; active: number; delayed: number; failed: number };
  };
}

async function settle(url: string, receivedTarget: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(url);
    if (s.received >= receivedTarget && s.queue.waiting + s.queue.active + s.queue.delayed === 0) return s;
    if (Date.now() > deadline) throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function runMode(
  { stack, store, redisNodes }: Bench,
  mode: 'batch' | 'single' | 'lag' | 'stream' | 'fill',
  opts: {
    events: number;
    batch: number;
    dup: number;
    connections: number;
    rate?: number;
    client?: 'lean' | 'autocannon' | 'aggregator';
    ids?: IdStyle;
    topics?: number;
    /** Open streams that must receive every new event before the CPU is sampled (stream mode). */
    streams?: number;
  },
): Promise<ModeResult> {
  const url = stack.url;
  const factory = createEventFactory(randomUUID().slice(0, 8), opts.dup, opts.ids, opts.topics);
  const before = await stats(url);
  const seqBefore = await maxSeq(store);
  const requests = Math.ceil(opts.events / opts.batch);
  // Bodies built before the CPU is sampled keep their building out of the figures (the fill is too
  // big to hold), but their timestamps are from before the run: lag is measured only where bodies
  // are built as they are sent.
  const pregenerate = mode === 'batch' || mode === 'single';
  const bodies = pregenerate ? Array.from({ length: requests }, () => factory.body(opts.batch)) : undefined;
  const pids = {
    api: stack.api.pid,
    workers: stack.workers.map((w) => w.pid),
    store: stack.postgres?.server?.child.pid,
  };
  // From here to the end of settle(): settle's /stats polls (every 10 ms) count too, about 1 % of
  // a core in the API and the generator.
  const streams = opts.streams ? await openBenchStreams(url, opts.streams, seqBefore) : undefined;
  const sampler = stack.postgres && (await startLockWaitSampler(stack.postgres.url));
  const cpuBefore = sampleCpu(pids);
  const redisBefore = await redisNodes.sampleCpu();
  const started = performance.now();
  const load = await runLoad(factory, {
    url,
    requests,
    batch: opts.batch,
    connections: opts.connections,
    rate: opts.rate,
    bodies,
    client: opts.client,
  });
  const sent = factory.generated;
  const after = await settle(url, before.received + sent, Math.max(300_000, sent));
  const seconds = (performance.now() - started) / 1000;
  const lockWait = await sampler?.stop();
  await streams?.waitFor(after.unique_processed - before.unique_processed, 60_000);
  const cpuAfter = sampleCpu(pids);
  const redisAfter = await redisNodes.sampleCpu();
  const nodes = redisNodes.nodes.map((node, i) => ({
    ...node,
    cpuUsPerEvent: Math.round((((redisAfter[i] ?? 0) - (redisBefore[i] ?? 0)) * 1e7) / sent) / 10,
  }));
  const perEvent = (part: Exclude<keyof CpuSample, 'redis'>) =>
    Math.round(((cpuAfter[part] - cpuBefore[part]) * 1e6) / sent);
  const cpu = {
    load: perEvent('load'),
    api: perEvent('api'),
    worker: perEvent('worker'),
    redis: Math.round(nodes.reduce((total, n) => total + n.cpuUsPerEvent, 0)),
    store: perEvent('store'),
  };
  const d = {
    received: after.received - before.received,
    unique: after.unique_processed - before.unique_processed,
    duplicates: after.duplicate_dropped - before.duplicate_dropped,
  };
  const failures = load.errors + load.non2xx + load.timeouts;
  const exact =
    failures === 0 && d.received === sent && d.unique === factory.unique && d.duplicates === sent - factory.unique;
  const lag = pregenerate ? undefined : await storedLagMs(store, seqBefore);
  const streamed = streams?.stop(d.unique);
  return {
    mode,
    events: sent,
    requests: load.requests,
    errors: failures,
    eventsPerSecond: Math.round(sent / seconds),
    publishP50Ms: load.latencyP50,
    publishP99Ms: load.latencyP99,
    lagP50Ms: lag?.p50 ?? null,
    lagP99Ms: lag?.p99 ?? null,
    exact: exact && (streamed?.exact ?? true),
    cpuUsPerEvent: { ...cpu, total: cpu.load + cpu.api + cpu.worker + cpu.redis + cpu.store },
    redisNodes: nodes,
    lockWait,
    streams: streamed && {
      ...streamed,
      apiCpuUsPerDelivered: Math.round(((cpuAfter.api - cpuBefore.api) * 1e6) / streamed.delivered),
    },
    detail: `received ${d.received}/${sent}, unique ${d.unique}/${factory.unique}, duplicates ${d.duplicates}`,
  };
}
