import type { Event } from '@aggregator/common';

/**
 * The events of one publisher run, laid out so that the expected counts are exact.
 *
 * The run is a stream of `total` slots cut into batches of `batch`. `duplicates` of the slots
 * (spread evenly, Bresenham style) re-send an event of the run; the others carry the unique events
 * `0 … unique-1` in order. The first slot is always unique and every prefix holds more unique
 * slots than duplicate ones, so a duplicate always has an earlier unique event to copy. Each
 * duplicate reuses an id of the unique set, so once everything is stored the service counts
 * exactly `unique` new events and `duplicates` dropped ones, whatever the order in which concurrent
 * requests arrive.
 */
export interface EventPlan {
  readonly runId: string;
  readonly total: number;
  readonly duplicates: number;
  readonly unique: number;
  readonly batch: number;
  readonly batches: number;
  readonly topics: number;
  /** Epoch ms the event timestamps count from (event `i` is stamped `startMs + i`). */
  readonly startMs: number;
}

export interface EventPlanOptions {
  runId: string;
  events: number;
  /** Share of `events` that are duplicates, in [0, 1). */
  dup: number;
  batch: number;
  topics: number;
  startMs?: number;
}

/** The plan of a run; throws when the ratio leaves no unique event to duplicate. */
export function planEvents(options: EventPlanOptions): EventPlan {
  const duplicates = Math.round(options.events * options.dup);
  const unique = options.events - duplicates;
  if (unique < 1) {
    throw new RangeError(`--dup ${options.dup} with --events ${options.events} leaves no unique event`);
  }
  return {
    runId: options.runId,
    total: options.events,
    duplicates,
    unique,
    batch: options.batch,
    batches: Math.ceil(options.events / options.batch),
    topics: options.topics,
    startMs: options.startMs ?? Date.now(),
  };
}

/** Duplicate slots among the first `slots` slots of the stream. */
function duplicatesBefore(plan: EventPlan, slots: number): number {
  return Math.floor((slots * plan.duplicates) / plan.total);
}

/** Unique event `index` of the run; the same index always gives the same (topic, event_id). */
export function runEvent(plan: EventPlan, index: number): Event {
  return {
    topic: `topic-${index % plan.topics}`,
    event_id: `${plan.runId}-${index}`,
    timestamp: new Date(plan.startMs + index).toISOString(),
    source: 'publish-cli',
    payload: { run: plan.runId, n: index },
  };
}

/** One request's worth of events. */
export interface Batch {
  readonly index: number;
  readonly events: Event[];
  /** The unique events of this batch are `firstUnique … firstUnique + uniqueCount - 1`. */
  readonly firstUnique: number;
  readonly uniqueCount: number;
  readonly duplicateCount: number;
}

/**
 * Hands out the batches of a plan in order. A duplicate copies an event whose first copy was
 * already acknowledged when there is one (so it really reaches the service as a re-send), else
 * one sent in an earlier batch, else an earlier one of its own batch.
 */
export class EventSource {
  readonly plan: EventPlan;
  #next = 0;
  /** Acknowledged unique ranges `[first, count]`, with running totals for a binary search. */
  readonly #acked: Array<{ first: number; count: number; before: number }> = [];
  #ackedTotal = 0;
  readonly #random: () => number;

  constructor(plan: EventPlan, random: () => number = Math.random) {
    this.plan = plan;
    this.#random = random;
  }

  /** The next batch, or undefined when every batch has been handed out. */
  next(): Batch | undefined {
    const { plan } = this;
    if (this.#next >= plan.batches) return undefined;
    const index = this.#next++;
    const start = index * plan.batch;
    const end = Math.min(plan.total, start + plan.batch);
    const firstUnique = start - duplicatesBefore(plan, start);
    const events: Event[] = [];
    let uniqueCount = 0;
    for (let slot = start; slot < end; slot++) {
      const isDuplicate = duplicatesBefore(plan, slot + 1) > duplicatesBefore(plan, slot);
      if (isDuplicate) {
        events.push(runEvent(plan, this.#pickEarlier(firstUnique, uniqueCount)));
      } else {
        events.push(runEvent(plan, firstUnique + uniqueCount));
        uniqueCount++;
      }
    }
    return { index, events, firstUnique, uniqueCount, duplicateCount: events.length - uniqueCount };
  }

  /** Records that the service accepted `batch`: its unique events become preferred duplicate sources. */
  acknowledge(batch: Batch): void {
    if (batch.uniqueCount === 0) return;
    this.#acked.push({ first: batch.firstUnique, count: batch.uniqueCount, before: this.#ackedTotal });
    this.#ackedTotal += batch.uniqueCount;
  }

  #pickEarlier(firstUnique: number, uniqueInBatch: number): number {
    if (this.#ackedTotal > 0) return this.#ackedAt(Math.floor(this.#random() * this.#ackedTotal));
    // Every unique event below `firstUnique` went out in an earlier batch.
    if (firstUnique > 0) return Math.floor(this.#random() * firstUnique);
    return Math.floor(this.#random() * uniqueInBatch);
  }

  /** The `k`-th acknowledged unique event, counting in acknowledgement order. */
  #ackedAt(k: number): number {
    let lo = 0;
    let hi = this.#acked.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#acked[mid]?.before ?? 0) <= k) lo = mid;
      else hi = mid - 1;
    }
    const range = this.#acked[lo];
    if (!range) throw new Error('no acknowledged event to duplicate');
    return range.first + (k - range.before);
  }
}
