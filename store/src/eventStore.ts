import type { Event, StoreCounters, TopicPattern } from '@aggregator/common';

/**
 * The store: the authoritative record of unique events and exact counters. Two adapters implement
 * this one interface, SQLite (`sqlite/`, embedded, the default) and PostgreSQL (`postgres/`, for
 * replicas on many hosts); `openStore.ts` picks one from the configuration. Nothing here names a
 * driver, a connection or a transaction: callers see only promises of plain values, and the
 * contract suite (`test/support/storeContract.ts`) is what every adapter must pass.
 */

export type { StoreCounters };

/** A stored event as read back, with its payload still as the JSON text that was stored. */
export interface StoredEventRow {
  topic: string;
  event_id: string;
  timestamp: string;
  source: string;
  payload: string;
  seq: number;
  processed_at: string;
}

/** What applying one job did. */
export interface ApplyOutcome {
  /** False when the job's effect was already committed by an earlier attempt. */
  firstApplication: boolean;
  /** Events written (new pairs). */
  inserted: number;
  /** Events dropped as duplicates (fast path or primary key). */
  duplicates: number;
  /** Topics that gained events in this job. */
  topics: string[];
  /** The counters after the job. */
  counters: StoreCounters;
}

export interface ListQuery {
  /** Only this topic; every topic when absent (and no `topicPattern`). */
  topic?: string;
  /**
   * Only the topics this pattern matches; never given with `topic`. Served from the topics index:
   * the topics under the pattern's literal prefix, then their events merged in seq order, all in
   * one snapshot (a topic created meanwhile cannot slip in below `after`).
   */
  topicPattern?: TopicPattern;
  /** Only events with `seq > after`. */
  after: number;
  limit: number;
}

/** A page of `listTopicStats`. */
export interface TopicStatsQuery {
  /** Only the topics this pattern matches; every topic when absent. */
  topicPattern?: TopicPattern;
  /** Only topics after this name (byte order): the last one of the previous page. */
  after?: string;
  limit: number;
}

/** One topic as `GET /topics` lists it; exact at rest, as `listEvents` of that topic would count. */
export interface TopicStats {
  topic: string;
  /** Its number of stored events. */
  events: number;
  /** The highest `seq` among them. */
  last_seq: number;
}

/** One job's input to `applyBatches`. */
export interface BatchToApply {
  jobId: string;
  events: readonly Event[];
  /**
   * Per event, the job that claimed its pair first in the fast path (`''` when this job did). An
   * event claimed by another job that this store has applied (before, or earlier in the same
   * group) skips the insert and counts as a duplicate: its row was stored with that job. Every
   * other event is decided by the primary key.
   */
  claimedBy?: readonly string[];
}

/** One listed event as `[seq, JSON text of the event as GET /events returns it]`. */
export type EventJsonRow = [seq: number, json: string];

/** Which adapter a store is, for logs and `/readyz`. */
export type StoreKind = 'sqlite' | 'postgres';

/**
 * The read side of the store; what an API replica needs.
 *
 * Tailing: a reader that pages through `listEvents({ after })` with the highest `seq` it has seen
 * never misses an event, whatever number of writers commit at once: a row is only served once
 * every row with a lower `seq` is (see docs/postgres.md, "Tailing"). Seqs only grow; on PostgreSQL
 * they may have gaps.
 */
export interface EventStoreReader {
  readonly kind: StoreKind;
  /** Where the store is, with no secret in it (a path, or host/port/database). */
  readonly location: string;
  listEvents(query: ListQuery): Promise<StoredEventRow[]>;
  /** As `listEvents`, each event already written as JSON by the database (the payload spliced in as stored). */
  listEventsAsJson(query: ListQuery): Promise<EventJsonRow[]>;
  readCounters(): Promise<StoreCounters>;
  /** The highest `seq` readers are served now (0 for an empty store): where a new tail starts. */
  readHead(): Promise<number>;
  listTopics(): Promise<string[]>;
  /** Topics with their event count and last seq, sorted by name in byte order (UTF-8). */
  listTopicStats(query: TopicStatsQuery): Promise<TopicStats[]>;
  countTopics(): Promise<number>;
  countEvents(): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** The write side; only workers hold one. */
export interface EventStoreWriter extends EventStoreReader {
  /**
   * Applies several jobs in one transaction (a group commit: one disk sync for all of them), each
   * in order, exactly as if alone: marks the job applied, inserts its new pairs, counts its
   * duplicates, updates the counters. All or none of them commit. Idempotent per `jobId`: a job
   * already applied changes nothing and reports `firstApplication: false` with the current counters.
   */
  applyBatches(batches: readonly BatchToApply[]): Promise<ApplyOutcome[]>;
  /** Forgets applied-job records older than `cutoffMs`; returns how many were removed. */
  pruneAppliedJobs(cutoffMs: number): Promise<number>;
  /**
   * Moves the visible head (the highest `seq` readers are served) over rows whose writers have all
   * ended, by one step. Never waits for another writer. SQLite's rows are visible in seq order as
   * they commit, so its head is simply the highest seq. Workers call it after each commit and on a
   * timer, and announce the head to the API's streams when it moved.
   */
  advanceHead(): Promise<HeadStep>;
}

/** Where the visible head stands after `advanceHead`. */
export interface HeadStep {
  /** The highest seq readers are served: every row up to it is visible, and no other will be. */
  head: number;
  /** False when rows drawn so far are still above the head: step again a little later. */
  settled: boolean;
}

/** `applyBatches` of one job. */
export async function applyBatch(
  store: EventStoreWriter,
  jobId: string,
  events: readonly Event[],
  claimedBy?: readonly string[],
): Promise<ApplyOutcome> {
  const [outcome] = await store.applyBatches([{ jobId, events, claimedBy }]);
  return outcome as ApplyOutcome;
}
