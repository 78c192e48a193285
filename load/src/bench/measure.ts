import { readFileSync } from 'node:fs';
import type { EventStoreReader } from '@aggregator/store';
import { Redis } from 'ioredis';

/** Peak resident set size of a process in MB (VmHWM), or NaN when unknown. */
export function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return Number.NaN;
  }
}

/** Current RSS of a process and its children in MB (a cluster primary plus its replicas). */
export function treePids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return [pid, ...children.flatMap((c) => treePids(c))];
  } catch {
    return [pid];
  }
}

export async function redisMemoryMb(url: string): Promise<{ used: number; peak: number }> {
  const redis = new Redis(url, { lazyConnect: false });
  try {
    const info = await redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return { used: Math.round(field('used_memory') / 2 ** 20), peak: Math.round(field('used_memory_peak') / 2 ** 20) };
  } finally {
    redis.disconnect();
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/**
 * Publish → stored lag of the events whose seq is above `afterSeq`: `processed_at` minus the
 * `timestamp` the generator stamped when it built the request (both on this machine's clock).
 */
export async function storedLagMs(
  store: EventStoreReader,
  afterSeq: number,
): Promise<{ p50: number; p99: number; count: number }> {
  const lags: number[] = [];
  for (let after = afterSeq; ; ) {
    const rows = await store.listEvents({ after, limit: 1000 });
    if (rows.length === 0) break;
    for (const r of rows) lags.push(Date.parse(r.processed_at) - Date.parse(r.timestamp));
    after = (rows.at(-1) as { seq: number }).seq;
  }
  lags.sort((a, b) => a - b);
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), count: lags.length };
}

/** The highest seq readers are served (PostgreSQL's seqs may have gaps: not the number of events). */
export function maxSeq(store: EventStoreReader): Promise<number> {
  return store.readHead();
}

/** `/proc/<pid>/stat`'s fields from the state on (field 3), or undefined when the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, or 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  const fields = pid === undefined ? undefined : statFields(pid);
  // utime is field 14, stime 15.
  return fields ? (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS : 0;
}

/**
 * CPU time of a server and every process it forked, in seconds: its own, that of its children
 * that have exited and been reaped (cutime and cstime, fields 16 and 17), and that of those still
 * running. For PostgreSQL, whose postmaster forks a backend per connection and its background
 * processes (WAL writer, checkpointer, autovacuum workers that come and go).
 */
export function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = statFields(pid);
  if (!fields) return 0;
  const reaped = (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  const live = treePids(pid)
    .slice(1)
    .reduce((total, child) => total + cpuSeconds(child), 0);
  return cpuSeconds(pid) + reaped + live;
}

/** `getconf CLK_TCK`: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** CPU seconds of each part; `store` is the PostgreSQL server (SQLite works inside the workers). */
export type CpuSample = Record<'load' | 'api' | 'worker' | 'redis' | 'store', number>;

/** CPU time (user + system) this process has used so far, in seconds. */
export function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * CPU seconds used so far by each process part of the stack (the API's cluster replicas included;
 * the PostgreSQL server with all its processes, when `store` is its postmaster). Redis's, per
 * node, come from `INFO cpu` (bench/redisNodes.ts).
 */
export function sampleCpu(pids: { api: number | undefined; workers: Array<number | undefined>; store?: number }) {
  const sum = (list: Array<number | undefined>) => list.reduce<number>((total, pid) => total + cpuSeconds(pid), 0);
  return {
    load: selfCpuSeconds(),
    api: sum(treePids(pids.api)),
    worker: sum(pids.workers),
    store: treeCpuSeconds(pids.store),
  } satisfies Omit<CpuSample, 'redis'>;
}
