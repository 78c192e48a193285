import { type BenchStackOptions, withBenchStack } from './benchStack.js';
import type { Ceilings } from './ceilings.js';
import { describeCpu, formatTable } from './formatTable.js';
import { type ModeResult, runMode } from './runMode.js';

/**
 * `--apis 1,4 --workers 1,2,4,8`: one mode on a fresh stack for every API replicas × workers,
 * `rounds` times, each round running every set-up once, one after another, so that a round
 * compares them at one moment of a noisy machine. One table: medians over the rounds, and each
 * set-up's events/s as a ratio to the first set-up's in the same round (median of those ratios).
 */

export interface ScalingCell extends ModeResult {
  apis: number;
  workers: number;
  round: number;
}

export interface ScalingOptions {
  apis: readonly number[];
  workers: readonly number[];
  rounds: number;
  mode: 'batch' | 'single';
  stack: Omit<BenchStackOptions, 'apis' | 'workers' | 'redis' | 'partitions'>;
  modeOptions: Parameters<typeof runMode>[2];
  progress?: (line: string) => void;
}

export async function runScalingMatrix(options: ScalingOptions): Promise<ScalingCell[]> {
  const cells: ScalingCell[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const apis of options.apis) {
      for (const workers of options.workers) {
        const stack = { ...options.stack, apis, workers, redis: 'single' as const, partitions: 1 };
        const r = await withBenchStack(stack, (bench) => runMode(bench, options.mode, options.modeOptions));
        cells.push({ ...r, apis, workers, round });
        options.progress?.(
          `round ${round}: ${apis} API(s) + ${workers} worker(s): ${r.eventsPerSecond} events/s` +
            (r.lockWait ? `, lock wait ${Math.round(r.lockWait.share * 100)} %` : ''),
        );
      }
    }
  }
  return cells;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Rows of `cells` grouped by `key`, in first-seen order. */
function groups<T>(cells: readonly T[], key: (c: T) => string): T[][] {
  const byKey = new Map<string, T[]>();
  for (const c of cells) byKey.set(key(c), [...(byKey.get(key(c)) ?? []), c]);
  return [...byKey.values()];
}

/** Each row's events/s over the first row's in the same round: the median of those ratios. */
function ratioToFirst<T extends { round: number }>(rows: readonly T[], first: readonly T[], rate: (r: T) => number) {
  const ratios = rows.flatMap((r) => {
    const base = first.find((f) => f.round === r.round);
    return base ? [rate(r) / rate(base)] : [];
  });
  return median(ratios).toFixed(2);
}

export function printScalingMatrix(cells: readonly ScalingCell[], write: (line: string) => void): void {
  const rows = groups(cells, (c) => `${c.apis}/${c.workers}`);
  const first = rows[0] ?? [];
  const med = (rs: readonly ScalingCell[], f: (r: ScalingCell) => number) => Math.round(median(rs.map(f)));
  const table = [
    [
      'apis',
      'workers',
      'events/s (median; each round)',
      '× first set-up (median of rounds)',
      'CPU µs/event (load+api+worker+redis+store), medians',
      'writers waiting on a lock',
      'exact',
    ],
    ...rows.map((rs) => {
      const r0 = rs[0] as ScalingCell;
      const cpu = Object.fromEntries(
        (['load', 'api', 'worker', 'redis', 'store', 'total'] as const).map((k) => [
          k,
          med(rs, (r) => r.cpuUsPerEvent[k]),
        ]),
      );
      const locks = rs.flatMap((r) => (r.lockWait ? [r.lockWait.share] : []));
      return [
        String(r0.apis),
        String(r0.workers),
        `${med(rs, (r) => r.eventsPerSecond)} (${rs.map((r) => r.eventsPerSecond).join(', ')})`,
        ratioToFirst(rs, first, (r) => r.eventsPerSecond),
        describeCpu(cpu),
        locks.length
          ? `${Math.round(median(locks) * 100)} % (${locks.map((l) => Math.round(l * 100)).join(', ')})`
          : '–',
        rs.every((r) => r.exact) ? 'yes' : 'NO',
      ];
    }),
  ];
  for (const line of formatTable(table)) write(line);
}

/** The table of `--modes ceiling --writers …`: the store alone with N writers. */
export function printStoreScaling(
  results: ReadonlyArray<Ceilings['store'] & { round: number }>,
  write: (line: string) => void,
): void {
  const rows = groups(results, (r) => String(r.writers));
  const first = rows[0] ?? [];
  const med = (rs: typeof results, f: (r: (typeof results)[number]) => number) => Math.round(median(rs.map(f)));
  const table = [
    [
      'writers',
      'events/s (median; each round)',
      '× first (median of rounds)',
      'CPU µs/event: writers (Node)',
      'store server',
      'rows',
    ],
    ...rows.map((rs) => [
      String(rs[0]?.writers),
      `${med(rs, (r) => r.eventsPerSecond)} (${rs.map((r) => r.eventsPerSecond).join(', ')})`,
      ratioToFirst(rs, first, (r) => r.eventsPerSecond),
      String(med(rs, (r) => r.cpuUsPerEvent)),
      String(med(rs, (r) => r.serverCpuUsPerEvent)),
      String(rs[0]?.rows),
    ]),
  ];
  for (const line of formatTable(table)) write(line);
}
