import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Event, TopicPattern } from '@aggregator/common';
import Database from 'better-sqlite3';
import type {
  ApplyOutcome,
  BatchToApply,
  EventJsonRow,
  EventStoreReader,
  EventStoreWriter,
  HeadStep,
  ListQuery,
  StoreCounters,
  StoredEventRow,
  TopicStats,
  TopicStatsQuery,
} from '../eventStore.js';
import { checkSchemaVersion } from '../schemaVersion.js';
import {
  matchingTopics,
  planPatternPage,
  runSync,
  selectionOf,
  type TopicCount,
  type TopicRead,
} from '../topicSelection.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { ADD_COUNTERS } from './sql/addCounters.js';
import { ADD_TOPIC_COUNT } from './sql/addTopicCount.js';
import { COUNT_EVENTS } from './sql/countEvents.js';
import { COUNT_TOPICS } from './sql/countTopics.js';
import { INIT_COUNTERS } from './sql/initCounters.js';
import { INSERT_EVENT } from './sql/insertEvent.js';
import { IS_JOB_APPLIED } from './sql/isJobApplied.js';
import { LIST_EVENTS, LIST_EVENTS_JSON } from './sql/listEvents.js';
import { LIST_EVENTS_OF_TOPIC, LIST_EVENTS_OF_TOPIC_JSON } from './sql/listEventsOfTopic.js';
import { LIST_EVENTS_OF_TOPIC_SET, LIST_EVENTS_OF_TOPIC_SET_JSON } from './sql/listEventsOfTopicSet.js';
import { listEventsOfTopics } from './sql/listEventsOfTopics.js';
import { LIST_TOPICS } from './sql/listTopics.js';
import { LIST_TOPICS_IN_RANGE } from './sql/listTopicsInRange.js';
import { MARK_JOB_APPLIED } from './sql/markJobApplied.js';
import { PRUNE_APPLIED_JOBS } from './sql/pruneAppliedJobs.js';
import { READ_COUNTERS } from './sql/readCounters.js';
import { TOPIC_STATS } from './sql/topicStats.js';

export interface SqliteOptions {
  /** How long a writer waits for another writer's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /** `FULL` (default): every commit is on disk before it returns. `NORMAL`: synced at checkpoints. */
  synchronous?: 'FULL' | 'NORMAL';
}

type Db = Database.Database;

function prepareReads(db: Db) {
  return {
    list: db.prepare<[number, number], StoredEventRow>(LIST_EVENTS),
    listOfTopic: db.prepare<[string, number, number], StoredEventRow>(LIST_EVENTS_OF_TOPIC),
    listJson: db.prepare<[number, number], EventJsonRow>(LIST_EVENTS_JSON).raw(),
    listOfTopicJson: db.prepare<[string, number, number], EventJsonRow>(LIST_EVENTS_OF_TOPIC_JSON).raw(),
    counters: db.prepare<[], StoreCounters>(READ_COUNTERS),
    topics: db.prepare<[], { topic: string }>(LIST_TOPICS).pluck(),
    topicCount: db.prepare<[], number>(COUNT_TOPICS).pluck(),
    count: db.prepare<[], number>(COUNT_EVENTS).pluck(),
    topicsInRange: db.prepare<[string, string, string, number], TopicCount>(LIST_TOPICS_IN_RANGE),
    topicStats: db.prepare<[string], TopicStats>(TOPIC_STATS),
    listOfTopicSet: db.prepare<[{ after: number; limit: number; set: string }], StoredEventRow>(
      LIST_EVENTS_OF_TOPIC_SET,
    ),
    listOfTopicSetJson: db
      .prepare<[{ after: number; limit: number; set: string }], EventJsonRow>(LIST_EVENTS_OF_TOPIC_SET_JSON)
      .raw(),
  };
}

/**
 * The SQLite adapter. better-sqlite3 is synchronous: each method does its work at once and
 * returns a settled promise, so a group commit still blocks the worker's event loop for exactly
 * one transaction, as before the interface became Promise-based.
 */
class SqliteReader implements EventStoreReader {
  readonly kind = 'sqlite';
  protected readonly reads: ReturnType<typeof prepareReads>;
  /** The merge statements of pattern pages, by number of topics (and JSON or not). */
  readonly #mergeStatements = new Map<string, Database.Statement>();

  constructor(
    protected readonly db: Db,
    readonly location: string,
  ) {
    this.reads = prepareReads(db);
  }

  async listEvents(query: ListQuery): Promise<StoredEventRow[]> {
    return this.#list(query, false) as StoredEventRow[];
  }

  async listEventsAsJson(query: ListQuery): Promise<EventJsonRow[]> {
    return this.#list(query, true) as EventJsonRow[];
  }

  #list(query: ListQuery, json: boolean): unknown[] {
    const { after, limit } = query;
    const selection = selectionOf(query);
    switch (selection.kind) {
      case 'all':
        return (json ? this.reads.listJson : this.reads.list).all(after, limit);
      case 'topic':
        return (json ? this.reads.listOfTopicJson : this.reads.listOfTopic).all(selection.topic, after, limit);
      case 'pattern':
        // The topics and their events in one read transaction: one snapshot, so a topic created
        // between the two reads cannot show events below `after` that a later page would skip.
        return this.#snapshot(() => this.#listOfPattern(selection.pattern, after, limit, json));
    }
  }

  #listOfPattern(pattern: TopicPattern, after: number, limit: number, json: boolean): unknown[] {
    const matched = runSync(matchingTopics(pattern, undefined), this.#readTopics);
    if (matched.length === 0) return [];
    const { topics, scan } = planPatternPage(matched, this.readCountersNow().unique_processed);
    if (scan) {
      const set = JSON.stringify(topics);
      return (json ? this.reads.listOfTopicSetJson : this.reads.listOfTopicSet).all({ after, limit, set });
    }
    const params: Record<string, string | number> = { after, limit };
    for (const [i, topic] of topics.entries()) params[`t${i}`] = topic;
    return this.#ofTopics(topics.length, json).all(params);
  }

  /** The merge statement for `n` topics, prepared on first use (at most MAX_MERGED_TOPICS × 2 of them). */
  #ofTopics(n: number, json: boolean): Database.Statement {
    const key = `${n}${json ? 'j' : ''}`;
    let statement = this.#mergeStatements.get(key);
    if (!statement) {
      statement = this.db.prepare(listEventsOfTopics(n, json));
      if (json) statement.raw();
      this.#mergeStatements.set(key, statement);
    }
    return statement;
  }

  readonly #readTopics = ({ bounds, limit }: TopicRead): TopicCount[] =>
    this.reads.topicsInRange.all(bounds.from, bounds.after, bounds.to, limit ?? -1);

  #snapshot<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  async listTopicStats({ topicPattern, after, limit }: TopicStatsQuery): Promise<TopicStats[]> {
    return this.#snapshot(() => {
      const topics = runSync(matchingTopics(topicPattern, after, limit), this.#readTopics);
      return topics.flatMap(({ topic }) => this.reads.topicStats.get(topic) ?? []);
    });
  }

  async readCounters(): Promise<StoreCounters> {
    return this.readCountersNow();
  }

  protected readCountersNow(): StoreCounters {
    const row = this.reads.counters.get();
    if (!row) throw new Error('the store has no counters row; was it created by a worker?');
    return row;
  }

  /** Rows commit in seq order under the write lock, gapless: the head is the number of events. */
  async readHead(): Promise<number> {
    return this.readCountersNow().unique_processed;
  }

  async listTopics(): Promise<string[]> {
    return this.reads.topics.all() as unknown as string[];
  }

  async countTopics(): Promise<number> {
    return this.reads.topicCount.get() as number;
  }

  async countEvents(): Promise<number> {
    return this.reads.count.get() as number;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** A job to apply, with each event's payload already as the JSON text the row stores. */
interface PreparedBatch extends BatchToApply {
  payloads: readonly string[];
}

class SqliteWriter extends SqliteReader implements EventStoreWriter {
  readonly #insert;
  readonly #markApplied;
  readonly #isApplied;
  readonly #addCounters;
  readonly #addTopic;
  readonly #prune;
  readonly #applyMany;

  constructor(db: Db, location: string) {
    super(db, location);
    this.#insert = db.prepare(INSERT_EVENT);
    this.#markApplied = db.prepare(MARK_JOB_APPLIED);
    this.#isApplied = db.prepare<[string], number>(IS_JOB_APPLIED).pluck();
    this.#addCounters = db.prepare(ADD_COUNTERS);
    this.#addTopic = db.prepare(ADD_TOPIC_COUNT);
    this.#prune = db.prepare(PRUNE_APPLIED_JOBS);
    this.#applyMany = db.transaction((batches: readonly PreparedBatch[]) =>
      batches.map((b) => this.#applyInTransaction(b)),
    );
  }

  async applyBatches(batches: readonly BatchToApply[]): Promise<ApplyOutcome[]> {
    // A short turn: what does not depend on the store (the payloads' JSON text, the bulk of the
    // parameters' encoding) is done before the lock, which other workers wait for.
    const prepared = batches.map((b) => ({ ...b, payloads: b.events.map((e) => JSON.stringify(e.payload)) }));
    // IMMEDIATE takes the write lock up front, so two workers never deadlock upgrading read locks.
    // Holding it from the first row to the commit is also what makes seq safe to tail: seq is
    // `unique_processed + 1`, assigned under the lock, so rows become visible in seq order.
    return this.#applyMany.immediate(prepared);
  }

  /**
   * Per event, whether the fast path proved its row is stored: another job claimed the pair first
   * and that job is applied in this store (looked up once per claiming job).
   */
  #storedByOthers(jobId: string, claimedBy: readonly string[] | undefined): (i: number) => boolean {
    if (!claimedBy) return () => false;
    const applied = new Map<string, boolean>();
    return (i) => {
      const holder = claimedBy[i];
      if (!holder || holder === jobId) return false;
      let known = applied.get(holder);
      if (known === undefined) {
        known = this.#isApplied.get(holder) !== undefined;
        applied.set(holder, known);
      }
      return known;
    };
  }

  #applyInTransaction({ jobId, events, claimedBy, payloads }: PreparedBatch): ApplyOutcome {
    const now = Date.now();
    if (this.#markApplied.run(jobId, now).changes === 0) {
      return { firstApplication: false, inserted: 0, duplicates: 0, topics: [], counters: this.readCountersNow() };
    }
    const before = this.readCountersNow();
    const processedAt = new Date(now).toISOString();
    const perTopic = new Map<string, number>();
    const storedByOthers = this.#storedByOthers(jobId, claimedBy);
    let seq = before.unique_processed;
    for (let i = 0; i < events.length; i++) {
      if (storedByOthers(i)) continue;
      const e = events[i] as Event;
      const { changes } = this.#insert.run(
        e.topic,
        e.event_id,
        e.timestamp,
        e.source,
        payloads[i] as string,
        seq + 1,
        processedAt,
      );
      if (changes === 1) {
        seq++;
        perTopic.set(e.topic, (perTopic.get(e.topic) ?? 0) + 1);
      }
    }
    const inserted = seq - before.unique_processed;
    const duplicates = events.length - inserted;
    this.#addCounters.run(events.length, inserted, duplicates);
    for (const [topic, count] of perTopic) this.#addTopic.run(topic, count);
    return {
      firstApplication: true,
      inserted,
      duplicates,
      topics: [...perTopic.keys()],
      counters: {
        ...before,
        received: before.received + events.length,
        unique_processed: seq,
        duplicate_dropped: before.duplicate_dropped + duplicates,
      },
    };
  }

  async pruneAppliedJobs(cutoffMs: number): Promise<number> {
    return this.#prune.run(cutoffMs).changes;
  }

  /** Nothing to move (readHead): always settled. */
  async advanceHead(): Promise<HeadStep> {
    return { head: await this.readHead(), settled: true };
  }
}

function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies the migrations this store lacks, in order, in one immediate transaction: the write lock
 * makes a second worker starting at once wait, then find nothing left to do.
 */
function migrate(db: Db): void {
  db.transaction(() => {
    const version = schemaVersion(db);
    checkSchemaVersion(version, SQLITE_MIGRATIONS.length, 'writer');
    for (const migration of SQLITE_MIGRATIONS.slice(version)) db.exec(migration);
    db.prepare(INIT_COUNTERS).run(randomUUID(), Date.now());
    db.pragma(`user_version = ${SQLITE_MIGRATIONS.length}`);
  }).immediate();
}

/**
 * Opens the store for writing (workers): creates the parent directory and the schema, turns on
 * WAL so readers never block the writer, and waits up to `busyTimeoutMs` for other writers.
 * With `synchronous = FULL` (the default) every commit is durable before the job is acknowledged.
 */
export async function openSqliteWriter(path: string, options: SqliteOptions = {}): Promise<EventStoreWriter> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    migrate(db);
    return new SqliteWriter(db, path);
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Opens an existing store read-only (API replicas). Throws SQLITE_CANTOPEN when no worker has
 * created it yet, and SchemaVersionError when its schema is not this build's.
 */
export async function openSqliteReader(path: string, options: SqliteOptions = {}): Promise<EventStoreReader> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    checkSchemaVersion(schemaVersion(db), SQLITE_MIGRATIONS.length, 'reader');
    const reader = new SqliteReader(db, path);
    await reader.readCounters();
    return reader;
  } catch (e) {
    db.close();
    throw e;
  }
}
