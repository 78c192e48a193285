import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
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
export function storedLagMs(sqlitePath: string, afterSeq: number): { p50: number; p99: number; count: number } {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    const rows = db.prepare('SELECT timestamp, processed_at FROM events WHERE seq > ?').all(afterSeq) as Array<{
      timestamp: string;
      processed_at: string;
    }>;
    const lags = rows.map((r) => Date.parse(r.processed_at) - Date.parse(r.timestamp)).sort((a, b) => a - b);
    return { p50: percentile(lags, 50), p99: percentile(lags, 99), count: lags.length };
  } finally {
    db.close();
  }
}

export function maxSeq(sqlitePath: string): number {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    return (db.prepare('SELECT coalesce(max(seq), 0) AS s FROM events').get() as { s: number }).s;
  } finally {
    db.close();
  }
}

/** CPU time (user + system) a process has used so far, in seconds, or 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** `getconf CLK_TCK`: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export type CpuSample = Record<'load' | 'api' | 'worker' | 'redis', number>;

/** CPU time (user + system) this process has used so far, in seconds. */
export function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds used so far by each part of the stack (the API's cluster replicas included). */
export function sampleCpu(pids: { api: number | undefined; workers: Array<number | undefined>; redis?: number }) {
  const sum = (list: Array<number | undefined>) => list.reduce<number>((total, pid) => total + cpuSeconds(pid), 0);
  return {
    load: selfCpuSeconds(),
    api: sum(treePids(pids.api)),
    worker: sum(pids.workers),
    redis: cpuSeconds(pids.redis),
  } satisfies CpuSample;
}
