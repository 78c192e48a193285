import type { Event, StoreCounters } from '@aggregator/common';
import type { ApplyOutcome, BatchToApply } from '../eventStore.js';
import type { Queryable } from './pool.js';
import { FIND_APPLIED_JOBS } from './sql/appliedJobs.js';
import { LOCK_COUNTERS } from './sql/counters.js';
import { FIND_STORED_PAIRS } from './sql/storedPairs.js';
import { WRITE_GROUP } from './sql/writeGroup.js';

/** Pairs as topic → event ids; no string joining, so no two pairs can collide. */
class PairSet {
  readonly #byTopic = new Map<string, Set<string>>();

  has(topic: string, eventId: string): boolean {
    return this.#byTopic.get(topic)?.has(eventId) ?? false;
  }

  add(topic: string, eventId: string): void {
    let ids = this.#byTopic.get(topic);
    if (!ids) {
      ids = new Set();
      this.#byTopic.set(topic, ids);
    }
    ids.add(eventId);
  }
}

/** Column arrays of the rows to insert, as WRITE_GROUP takes them. */
class NewRows {
  readonly topics: string[] = [];
  readonly eventIds: string[] = [];
  readonly timestamps: string[] = [];
  readonly sources: string[] = [];
  readonly payloads: string[] = [];
  readonly seqs: number[] = [];

  push(e: Event, seq: number): void {
    this.topics.push(e.topic);
    this.eventIds.push(e.event_id);
    this.timestamps.push(e.timestamp);
    this.sources.push(e.source);
    this.payloads.push(JSON.stringify(e.payload));
    this.seqs.push(seq);
  }
}

/**
 * Per event of each batch, whether the fast path proved its row is stored: another job claimed
 * the pair first and that job is applied here, before this group or earlier in it. `null` for a
 * job already applied (it is skipped whole).
 */
function planSkips(batches: readonly BatchToApply[], appliedBefore: ReadonlySet<string>): Array<boolean[] | null> {
  const applied = new Set(appliedBefore);
  return batches.map(({ jobId, events, claimedBy }) => {
    if (applied.has(jobId)) return null;
    applied.add(jobId);
    return events.map((_, i) => {
      const holder = claimedBy?.[i];
      return !!holder && holder !== jobId && applied.has(holder);
    });
  });
}

/**
 * Applies a group of jobs inside the caller's transaction, with the same effect as the SQLite
 * adapter's one-by-one inserts, in five statements whatever the group's size:
 *
 * 1. lock the counters row (`FOR UPDATE`): from here to the commit no other writer runs, so
 *    what the next two reads find cannot change under us, and seq can be assigned in order;
 * 2. which of the group's jobs, and of the jobs that claimed its pairs, are applied already;
 * 3. which of the remaining pairs are stored already;
 * 4. (here, in memory) each job in order: its duplicates, its new rows with the next seqs;
 * 5. write rows, counters, topic counts and the applied-job records in one statement.
 *
 * Each read happens in a statement that starts after the lock was granted, so under READ
 * COMMITTED it sees every row of the writer that held the lock before.
 */
export async function applyGroup(db: Queryable, batches: readonly BatchToApply[]): Promise<ApplyOutcome[]> {
  const now = Date.now();
  const processedAt = new Date(now).toISOString();
  const locked = (await db.query<StoreCounters>(LOCK_COUNTERS)).rows[0];
  if (!locked) throw new Error('the store has no counters row; was it created by a worker?');

  const asked = new Set<string>();
  for (const { jobId, claimedBy } of batches) {
    asked.add(jobId);
    for (const holder of claimedBy ?? []) if (holder) asked.add(holder);
  }
  const { rows: appliedRows } = await db.query<{ job_id: string }>(FIND_APPLIED_JOBS, [[...asked]]);
  const skips = planSkips(batches, new Set(appliedRows.map((r) => r.job_id)));

  const candidates = { topics: [] as string[], eventIds: [] as string[] };
  for (const [b, batch] of batches.entries()) {
    const skip = skips[b];
    if (!skip) continue;
    for (const [i, e] of batch.events.entries()) {
      if (skip[i]) continue;
      candidates.topics.push(e.topic);
      candidates.eventIds.push(e.event_id);
    }
  }
  const stored = new PairSet();
  if (candidates.topics.length > 0) {
    const { rows } = await db.query<{ topic: string; event_id: string }>(FIND_STORED_PAIRS, [
      candidates.topics,
      candidates.eventIds,
    ]);
    for (const r of rows) stored.add(r.topic, r.event_id);
  }

  const counters: StoreCounters = { ...locked };
  const rows = new NewRows();
  const topicCounts = new Map<string, number>();
  const firstJobs: string[] = [];
  const outcomes = batches.map(({ jobId, events }, b): ApplyOutcome => {
    const skip = skips[b];
    if (!skip) return { firstApplication: false, inserted: 0, duplicates: 0, topics: [], counters: { ...counters } };
    firstJobs.push(jobId);
    const topics = new Set<string>();
    let inserted = 0;
    for (const [i, e] of events.entries()) {
      if (skip[i] || stored.has(e.topic, e.event_id)) continue;
      stored.add(e.topic, e.event_id);
      inserted++;
      rows.push(e, counters.unique_processed + inserted);
      topics.add(e.topic);
      topicCounts.set(e.topic, (topicCounts.get(e.topic) ?? 0) + 1);
    }
    const duplicates = events.length - inserted;
    counters.received += events.length;
    counters.unique_processed += inserted;
    counters.duplicate_dropped += duplicates;
    return { firstApplication: true, inserted, duplicates, topics: [...topics], counters: { ...counters } };
  });

  if (firstJobs.length > 0) {
    await db.query(WRITE_GROUP, [
      rows.topics,
      rows.eventIds,
      rows.timestamps,
      rows.sources,
      rows.payloads,
      rows.seqs,
      rows.seqs.map(() => processedAt),
      counters.received - locked.received,
      counters.unique_processed - locked.unique_processed,
      counters.duplicate_dropped - locked.duplicate_dropped,
      [...topicCounts.keys()],
      [...topicCounts.values()],
      firstJobs,
      firstJobs.map(() => now),
    ]);
  }
  return outcomes;
}
