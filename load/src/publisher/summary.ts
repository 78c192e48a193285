import type { EventPlan } from './generateEvents.js';
import { formatCount } from './progress.js';
import { emptyReport, type SendReport } from './sendBatches.js';
import type { DeltaCheck, SettleResult } from './verifyStats.js';

/** The outcome of a run, as printed (one JSON line with `--json`). */
export interface PublishSummary {
  ok: boolean;
  run_id: string;
  url: string;
  /** Events the run was to send, and how many of them the service acknowledged. */
  events: { planned: number; sent: number; unique: number; duplicates: number };
  /** Unique events the service should store (differs from `events.unique` with `--expect-unique`). */
  expected_unique: number;
  requests: number;
  attempts: number;
  retries: number;
  retries_by_reason: Record<string, number>;
  resent_events: number;
  elapsed_ms: number;
  events_per_second: number;
  latency_ms: { p50: number; p99: number; max: number };
  /** Absent with `--no-verify`, or when sending failed. */
  verify?: {
    settled: boolean;
    settle_ms: number;
    deltas?: DeltaCheck['deltas'];
    expected?: DeltaCheck['expected'];
  };
  /** Why the run failed, when it did. */
  error?: string;
}

/** The `p`-th percentile (0–100) of `values`, nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Puts together what a run did; `ok` only when nothing failed and the check (if any) passed. */
export function buildSummary(input: {
  url: string;
  plan: EventPlan;
  expectedUnique: number;
  /** What was sent; absent when the run failed before sending. */
  report?: SendReport;
  settle?: SettleResult;
  check?: DeltaCheck;
  error?: string;
}): PublishSummary {
  const report = input.report ?? emptyReport();
  const { plan, settle, check } = input;
  return {
    ok: input.error === undefined && (check?.ok ?? true),
    run_id: plan.runId,
    url: input.url,
    events: { planned: plan.total, sent: report.events, unique: plan.unique, duplicates: plan.duplicates },
    expected_unique: input.expectedUnique,
    requests: report.requests,
    attempts: report.attempts,
    retries: report.retries,
    retries_by_reason: report.retriesByReason,
    resent_events: report.resentEvents,
    elapsed_ms: Math.round(report.elapsedMs),
    events_per_second: report.elapsedMs > 0 ? Math.round((report.events * 1000) / report.elapsedMs) : 0,
    latency_ms: {
      p50: round1(percentile(report.latenciesMs, 50)),
      p99: round1(percentile(report.latenciesMs, 99)),
      max: round1(percentile(report.latenciesMs, 100)),
    },
    ...(settle && {
      verify: {
        settled: settle.settled,
        settle_ms: Math.round(settle.waitedMs),
        ...(check && { deltas: check.deltas, expected: check.expected }),
      },
    }),
    ...(input.error !== undefined && { error: input.error }),
  };
}

/** The summary for a terminal: a few aligned lines. */
export function formatSummary(s: PublishSummary): string {
  const reasons = Object.entries(s.retries_by_reason)
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(', ');
  const lines = [
    `run ${s.run_id} → ${s.url}`,
    `  sent        ${formatCount(s.events.sent)} of ${formatCount(s.events.planned)} events ` +
      `(planned: ${formatCount(s.events.unique)} unique, ${formatCount(s.events.duplicates)} duplicates) in ${formatCount(s.requests)} requests`,
    `  retries     ${formatCount(s.retries)}${reasons ? ` (${reasons})` : ''}; ${formatCount(s.resent_events)} events re-sent after no reply or a 5xx`,
    `  elapsed     ${(s.elapsed_ms / 1000).toFixed(2)} s, ${formatCount(s.events_per_second)} events/s`,
    `  latency     p50 ${s.latency_ms.p50} ms, p99 ${s.latency_ms.p99} ms, max ${s.latency_ms.max} ms`,
  ];
  const v = s.verify;
  if (v?.deltas && v.expected) {
    const range = (r: { min: number; max: number }) => (r.min === r.max ? `${r.min}` : `${r.min}–${r.max}`);
    lines.push(
      `  settled     ${v.settled ? `after ${(v.settle_ms / 1000).toFixed(2)} s` : `no, gave up after ${(v.settle_ms / 1000).toFixed(2)} s`}`,
      `  /stats Δ    received +${v.deltas.received} (expected ${range(v.expected.received)}), ` +
        `unique_processed +${v.deltas.unique_processed} (expected ${v.expected.unique_processed}), ` +
        `duplicate_dropped +${v.deltas.duplicate_dropped} (expected ${range(v.expected.duplicate_dropped)}), ` +
        `failed jobs +${v.deltas.failed}`,
    );
  } else if (!v && s.ok) {
    lines.push('  verify      skipped (--no-verify)');
  }
  const okLine = v ? 'OK: the counters match exactly' : 'OK: every event was acknowledged (not checked)';
  lines.push(s.ok ? okLine : `FAILED: ${s.error ?? 'unknown error'}`);
  return lines.join('\n');
}
