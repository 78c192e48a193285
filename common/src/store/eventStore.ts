import type { Counters, Event } from '../types.js';

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

/** The store's counters plus what identifies the store. */
export interface StoreCounters extends Counters {
  /** Random id of this database; the Redis counters carry it, so a new database resets them. */
  store_id: string;
  /** When the service was first started on this store (epoch ms). */
  created_at: number;
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
  /** Only this topic; every topic when absent. */
  topic?: string;
  /** Only events with `seq > after`. */
  after: number;
  limit: number;
}

/** One job's input to `applyBatches`. */
export interface BatchToApply {
  jobId: string;
  events: readonly Event[];
  claimedBy?: readonly string[];
}

/** One listed event as `[seq, JSON text of the event as GET /events returns it]`. */
export type EventJsonRow = [seq: number, json: string];

/** The read side of the store; what an API replica needs. */
export interface EventStoreReader {
  listEvents(query: ListQuery): StoredEventRow[];
  /** As `listEvents`, each event already written as JSON by SQLite (the payload spliced in as stored). */
  listEventsAsJson(query: ListQuery): EventJsonRow[];
  readCounters(): StoreCounters;
  listTopics(): string[];
  countTopics(): number;
  countEvents(): number;
  close(): void;
}

/** The write side; only workers hold one. */
export interface EventStoreWriter extends EventStoreReader {
  /**
   * Applies one job in one transaction: marks the job applied, inserts the new pairs, counts the
   * duplicates, updates the counters. Idempotent per `jobId`: a second call changes nothing and
   * reports `firstApplication: false` with the current counters.
   *
   * @param claimedBy - per event, the job that claimed its pair first in the fast path (`''` when
   *   this job did). An event claimed by another job that this store has applied skips the insert
   *   and counts as a duplicate: its row was stored with that job. Every other event is decided by
   *   the primary key.
   */
  applyBatch(jobId: string, events: readonly Event[], claimedBy?: readonly string[]): ApplyOutcome;
  /**
   * Applies several jobs in one transaction (a group commit: one disk sync for all of them), each
   * exactly as `applyBatch` would, in order. All or none of them commit.
   */
  applyBatches(batches: readonly BatchToApply[]): ApplyOutcome[];
  /** Forgets applied-job records older than `cutoffMs`; returns how many were removed. */
  pruneAppliedJobs(cutoffMs: number): number;
}
