import type { Event } from '@aggregator/common';
import type { ApplyOutcome, BatchToApply } from '../eventStore.js';
import type { Queryable } from './pool.js';
import { BEGIN_GROUP } from './sql/beginGroup.js';
import { COUNTER_SLOTS } from './sql/schema.js';
import { INSERT_EVENTS, INSERT_NEW_EVENTS, WRITE_TOTALS } from './sql/writeGroup.js';

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

/** Column arrays of the rows to insert, as INSERT_EVENTS takes them. */
class NewRows {
  readonly topics: string[] = [];
  readonly eventIds: string[] = [];
  readonly timestamps: string[] = [];
  readonly sources: string[] = [];
  readonly payloads: string[] = [];

  push(e: Event): void {
    this.topics.push(e.topic);
    this.eventIds.push(e.event_id);
    this.timestamps.push(e.timestamp);
    this.sources.push(e.source);
    this.payloads.push(JSON.stringify(e.payload));
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

/** What `applyGroup` did: each job's outcome, its counters still to be filled in by the caller. */
export interface GroupOutcome {
  outcomes: Array<Omit<ApplyOutcome, 'counters'>>;
  /** The highest seq this group drew (0 when it inserted nothing). */
  lastSeq: number;
}

/**
 * Applies a group of jobs inside the caller's transaction, with the same effect as the SQLite
 * adapter's one-by-one inserts, in three statements whatever the group's size, and without waiting
 * for any other writer except one racing for the same pair, topic or job:
 *
 * 1. which of the group's jobs, and of the jobs that claimed its pairs, are applied already, and
 *    which of its pairs are stored already (committed), in one statement that also takes the
 *    transaction's xid before any seq is drawn (see sql/visibleHead.ts). The pairs looked up are
 *    those no other job claimed: a pair another job claimed is either skipped (that job is
 *    applied) or, rarely, left to step 3's ON CONFLICT;
 * 2. (here, in memory) each job in order: the pairs it is first to bring;
 * 3. insert them, seqs drawn from the sequence. When the group is first to claim every pair it
 *    inserts, no other writer can be inserting one of them (the fast path gave each claim to one
 *    job), so a plain INSERT does (INSERT_NEW_EVENTS); a pair another job claimed and that job is
 *    not applied here (it may be in flight on another writer) makes the group `racing`: it
 *    inserts with ON CONFLICT DO NOTHING (INSERT_EVENTS, about 40 % more of PostgreSQL's CPU per
 *    row), learning which rows went in: a pair another writer committed is not inserted. A claim
 *    the fast path lost (a dropped generation, a wiped Redis) can still let the plain INSERT meet
 *    another writer's pair: it fails the group with a unique violation, and the caller applies
 *    the group again with `racing` set;
 * 4. (in memory) each job's inserted and duplicate events, from what step 3 returned;
 * 5. add the totals to a counter slot drawn at random, count the topics' new events, record the
 *    jobs applied: the only row locks two writers can share, held from here to the commit.
 */
export async function applyGroup(
  db: Queryable,
  batches: readonly BatchToApply[],
  racing = false,
): Promise<GroupOutcome> {
  const now = Date.now();
  const processedAt = new Date(now).toISOString();

  const asked = new Set<string>();
  const wanted = { topics: [] as string[], eventIds: [] as string[] };
  for (const { jobId, events, claimedBy } of batches) {
    asked.add(jobId);
    for (const [i, e] of events.entries()) {
      const holder = claimedBy?.[i];
      if (holder && holder !== jobId) {
        asked.add(holder);
        continue;
      }
      wanted.topics.push(e.topic);
      wanted.eventIds.push(e.event_id);
    }
  }
  const { rows: begun } = await db.query<{ applied: string[]; stored_topics: string[]; stored_event_ids: string[] }>(
    BEGIN_GROUP,
    [[...asked], wanted.topics, wanted.eventIds],
  );
  const group = begun[0];
  const skips = planSkips(batches, new Set(group?.applied ?? []));
  const stored = new PairSet();
  for (const [i, topic] of (group?.stored_topics ?? []).entries()) {
    stored.add(topic, group?.stored_event_ids[i] as string);
  }

  // Each job's candidate rows: the pairs no earlier job of the group brings and none stored.
  const rows = new NewRows();
  let contested = racing;
  const brought = batches.map(({ jobId, events, claimedBy }, b): Event[] => {
    const skip = skips[b];
    if (!skip) return [];
    const mine: Event[] = [];
    for (const [i, e] of events.entries()) {
      if (skip[i] || stored.has(e.topic, e.event_id)) continue;
      const holder = claimedBy?.[i];
      if (holder && holder !== jobId) contested = true;
      stored.add(e.topic, e.event_id);
      rows.push(e);
      mine.push(e);
    }
    return mine;
  });
  // undefined: every row went in (INSERT_NEW_EVENTS fails the group otherwise).
  let inserted: PairSet | undefined;
  let lastSeq = 0;
  if (rows.topics.length > 0) {
    const values = [
      rows.topics,
      rows.eventIds,
      rows.timestamps,
      rows.sources,
      rows.payloads,
      rows.topics.map(() => processedAt),
    ];
    if (contested) {
      inserted = new PairSet();
      const { rows: returned } = await db.query<{ topic: string; event_id: string; seq: number }>(
        INSERT_EVENTS,
        values,
      );
      for (const r of returned) {
        inserted.add(r.topic, r.event_id);
        lastSeq = Math.max(lastSeq, r.seq);
      }
    } else {
      const { rows: returned } = await db.query<{ last_seq: number }>({
        name: 'insert_new_events',
        text: INSERT_NEW_EVENTS,
        values,
      });
      lastSeq = returned[0]?.last_seq ?? 0;
    }
  }

  const totals = { received: 0, unique_processed: 0, duplicate_dropped: 0 };
  const topicCounts = new Map<string, number>();
  const firstJobs: string[] = [];
  const outcomes = batches.map(({ jobId, events }, b): GroupOutcome['outcomes'][number] => {
    if (!skips[b]) return { firstApplication: false, inserted: 0, duplicates: 0, topics: [] };
    firstJobs.push(jobId);
    const topics = new Set<string>();
    let count = 0;
    for (const e of brought[b] ?? []) {
      if (inserted && !inserted.has(e.topic, e.event_id)) continue;
      count++;
      topics.add(e.topic);
      topicCounts.set(e.topic, (topicCounts.get(e.topic) ?? 0) + 1);
    }
    totals.received += events.length;
    totals.unique_processed += count;
    totals.duplicate_dropped += events.length - count;
    return { firstApplication: true, inserted: count, duplicates: events.length - count, topics: [...topics] };
  });

  if (firstJobs.length > 0) {
    const topics = [...topicCounts.keys()].sort();
    await db.query(WRITE_TOTALS, [
      Math.floor(Math.random() * COUNTER_SLOTS),
      totals.received,
      totals.unique_processed,
      totals.duplicate_dropped,
      topics,
      topics.map((t) => topicCounts.get(t)),
      firstJobs,
      firstJobs.map(() => now),
    ]);
  }
  return { outcomes, lastSeq };
}
