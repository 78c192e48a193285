import type { Failpoints, TopicPattern } from '@aggregator/common';
import type pg from 'pg';
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
import { postgresLocation } from '../location.js';
import { checkSchemaVersion } from '../schemaVersion.js';
import {
  matchingTopics,
  planPatternPage,
  runAsync,
  selectionOf,
  type TopicCount,
  type TopicRead,
} from '../topicSelection.js';
import { stepHead } from './advanceHead.js';
import { applyGroup } from './applyGroup.js';
import { migrate, readSchemaVersion } from './migrate.js';
import { POSTGRES_MIGRATIONS } from './migrationList.js';
import { createPool, inTransaction, type PostgresOptions, type Queryable } from './pool.js';
import { PRUNE_APPLIED_JOBS } from './sql/appliedJobs.js';
import { READ_COUNTERS, STEP_HEAD_READING_COUNTERS } from './sql/counters.js';
import {
  COUNT_EVENTS,
  LIST_EVENTS,
  LIST_EVENTS_JSON,
  LIST_EVENTS_OF_TOPIC,
  LIST_EVENTS_OF_TOPIC_JSON,
} from './sql/listEvents.js';
import {
  LIST_EVENTS_OF_TOPIC_SET,
  LIST_EVENTS_OF_TOPIC_SET_JSON,
  listEventsOfTopics,
} from './sql/listEventsOfTopics.js';
import {
  COUNT_TOPICS,
  LIST_TOPICS,
  LIST_TOPICS_IN_RANGE,
  LIST_TOPICS_IN_RANGE_AT_HEAD,
  TOPIC_STATS,
} from './sql/topics.js';
import { READ_VISIBLE_HEAD } from './sql/visibleHead.js';

export type { PostgresOptions };

/**
 * The PostgreSQL adapter: a pool of `DATABASE_POOL_SIZE` connections per process. The hot reads
 * are named prepared statements (parsed and planned once per connection).
 */
class PostgresReader implements EventStoreReader {
  readonly kind = 'postgres';
  #closed: Promise<void> | undefined;

  constructor(
    protected readonly pool: pg.Pool,
    readonly location: string,
  ) {}

  async listEvents(query: ListQuery): Promise<StoredEventRow[]> {
    return this.#list<StoredEventRow>(query, false);
  }

  async listEventsAsJson(query: ListQuery): Promise<EventJsonRow[]> {
    return this.#list<EventJsonRow>(query, true);
  }

  async #list<Row>(query: ListQuery, json: boolean): Promise<Row[]> {
    const { after, limit } = query;
    const selection = selectionOf(query);
    const suffix = json ? '_json' : '';
    if (selection.kind === 'pattern') return this.#listOfPattern<Row>(selection.pattern, after, limit, json);
    return selection.kind === 'all'
      ? await queryRows<Row>(this.pool, json, {
          name: `list_events${suffix}`,
          text: json ? LIST_EVENTS_JSON : LIST_EVENTS,
          values: [after, limit],
        })
      : await queryRows<Row>(this.pool, json, {
          name: `list_events_of_topic${suffix}`,
          text: json ? LIST_EVENTS_OF_TOPIC_JSON : LIST_EVENTS_OF_TOPIC,
          values: [selection.topic, after, limit],
        });
  }

  /**
   * A pattern page in two statements and no transaction: the matching topics with the head (the
   * highest stored seq) in one snapshot, then their events up to that head. A topic created
   * between the two reads holds only events above the head, so a reader paging with `after` skips
   * none of them: they come in a later page (the page may be short meanwhile, as at the end).
   */
  async #listOfPattern<Row>(pattern: TopicPattern, after: number, limit: number, json: boolean): Promise<Row[]> {
    let head = 0;
    const matched = await runAsync(matchingTopics(pattern, undefined), async ({ bounds }) => {
      const { rows } = await this.pool.query<TopicCount & { head: number }>({
        name: 'list_topics_in_range_at_head',
        text: LIST_TOPICS_IN_RANGE_AT_HEAD,
        values: [bounds.from, bounds.after, bounds.to],
      });
      head = rows[0]?.head ?? head;
      return rows;
    });
    if (matched.length === 0) return [];
    const { topics, scan } = planPatternPage(matched, head);
    const suffix = json ? '_json' : '';
    return scan
      ? await queryRows<Row>(this.pool, json, {
          name: `list_events_of_topic_set${suffix}`,
          text: json ? LIST_EVENTS_OF_TOPIC_SET_JSON : LIST_EVENTS_OF_TOPIC_SET,
          values: [after, limit, head, topics],
        })
      : await queryRows<Row>(this.pool, json, {
          // Prepared once per connection and number of topics (at most MAX_MERGED_TOPICS × 2).
          name: `list_events_of_${topics.length}_topics${suffix}`,
          text: listEventsOfTopics(topics.length, json),
          values: [after, limit, head, ...topics],
        });
  }

  listTopicStats({ topicPattern, after, limit }: TopicStatsQuery): Promise<TopicStats[]> {
    return inTransaction(
      this.pool,
      async (client) => {
        const topics = await runAsync(matchingTopics(topicPattern, after, limit), (read) => readTopics(client, read));
        if (topics.length === 0) return [];
        const names = topics.map((t) => t.topic);
        const { rows } = await client.query<TopicStats>({ name: 'topic_stats', text: TOPIC_STATS, values: [names] });
        return rows;
      },
      'snapshot',
    );
  }

  async readCounters(): Promise<StoreCounters> {
    const { rows } = await this.pool.query<StoreCounters>({ name: 'read_counters', text: READ_COUNTERS });
    const row = rows[0];
    if (!row) throw new Error('the store has no counters row; was it created by a worker?');
    return row;
  }

  async readHead(): Promise<number> {
    const { rows } = await this.pool.query<{ head: number }>({ name: 'read_visible_head', text: READ_VISIBLE_HEAD });
    return rows[0]?.head ?? 0;
  }

  async listTopics(): Promise<string[]> {
    const { rows } = await this.pool.query<{ topic: string }>(LIST_TOPICS);
    return rows.map((r) => r.topic);
  }

  async countTopics(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>({ name: 'count_topics', text: COUNT_TOPICS });
    return rows[0]?.n ?? 0;
  }

  async countEvents(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(COUNT_EVENTS);
    return rows[0]?.n ?? 0;
  }

  close(): Promise<void> {
    this.#closed ??= this.pool.end();
    return this.#closed;
  }
}

/** Runs a statement, its rows as objects or, for `json` (rows of `seq, json`), as arrays. */
async function queryRows<Row>(
  db: Queryable,
  json: boolean,
  config: { name: string; text: string; values: unknown[] },
): Promise<Row[]> {
  const { rows } = json ? await db.query({ ...config, rowMode: 'array' }) : await db.query(config);
  return rows as Row[];
}

async function readTopics(client: Queryable, { bounds, limit }: TopicRead): Promise<TopicCount[]> {
  const { rows } = await client.query<TopicCount>({
    name: 'list_topics_in_range',
    text: LIST_TOPICS_IN_RANGE,
    values: [bounds.from, bounds.after, bounds.to, limit ?? null],
  });
  return rows;
}

/** Steps of the visible head a group commit takes itself, so a lone writer reads its own writes. */
const INLINE_HEAD_STEPS = 2;

class PostgresWriter extends PostgresReader implements EventStoreWriter {
  constructor(
    pool: pg.Pool,
    location: string,
    private readonly failpoints: Failpoints | undefined,
  ) {
    super(pool, location);
  }

  /**
   * Writers run in parallel (applyGroup.ts). After the commit: a step or two of the visible head,
   * enough for a writer alone to see its rows at once (with others running, the worker's steps
   * after each commit and on a timer finish the job), each reading the counters in the same round
   * trip, after the commit, so that the last writer to commit reports the exact totals (Redis keeps
   * the largest it is told).
   */
  async applyBatches(batches: readonly BatchToApply[]): Promise<ApplyOutcome[]> {
    const commit = (racing: boolean) =>
      inTransaction(this.pool, async (client) => {
        const group = await applyGroup(client, batches, racing);
        this.failpoints?.hit('store.before-commit');
        return group;
      });
    // A writer racing for one of the pairs (or a job applied by another writer meanwhile) fails
    // the plain insert: applied again, the group skips what the other writer committed.
    const { outcomes, lastSeq } = await commit(false).catch((e: unknown) => {
      if (isUniqueViolation(e)) return commit(true);
      throw e;
    });
    let counters: StoreCounters | undefined;
    for (let i = 0; i < INLINE_HEAD_STEPS && lastSeq > 0; i++) {
      const { rows } = await this.pool.query<HeadStep & StoreCounters>({
        name: 'step_head_reading_counters',
        text: STEP_HEAD_READING_COUNTERS,
      });
      const { head, settled: _, ...read } = rows[0] as HeadStep & StoreCounters;
      counters = read;
      if (head >= lastSeq) break;
    }
    counters ??= await this.readCounters();
    return outcomes.map((o) => ({ ...o, counters }));
  }

  advanceHead(): Promise<HeadStep> {
    return stepHead(this.pool);
  }

  async pruneAppliedJobs(cutoffMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(PRUNE_APPLIED_JOBS, [cutoffMs]);
    return rowCount ?? 0;
  }
}

/** PostgreSQL's unique_violation (SQLSTATE 23505). */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

async function closingOnFailure<T>(pool: pg.Pool, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (e: unknown) {
    await pool.end().catch(() => {});
    throw e;
  }
}

/**
 * Opens the store for writing (workers): connects, and migrates the schema to this build's version
 * under a lock (see migrate.ts).
 *
 * @throws SchemaVersionError when the store's schema is newer than this build; a driver error when
 *   PostgreSQL cannot be reached (the worker retries: classifyFailure)
 */
export async function openPostgresWriter(options: PostgresOptions): Promise<EventStoreWriter> {
  const pool = createPool(options);
  return closingOnFailure(pool, async () => {
    await migrate(pool);
    return new PostgresWriter(pool, postgresLocation(options.url), options.failpoints);
  });
}

/**
 * Opens the store for reading (API replicas).
 *
 * @throws SchemaVersionError when the store's schema is not this build's; error 42P01 when no
 *   worker has created it yet; a driver error when PostgreSQL cannot be reached
 */
export async function openPostgresReader(options: PostgresOptions): Promise<EventStoreReader> {
  const pool = createPool(options);
  return closingOnFailure(pool, async () => {
    checkSchemaVersion(await readSchemaVersion(pool), POSTGRES_MIGRATIONS.length, 'reader');
    const reader = new PostgresReader(pool, postgresLocation(options.url));
    await reader.readCounters();
    return reader;
  });
}
