import type pg from 'pg';
import type {
  ApplyOutcome,
  BatchToApply,
  EventJsonRow,
  EventStoreReader,
  EventStoreWriter,
  ListQuery,
  StoreCounters,
  StoredEventRow,
} from '../eventStore.js';
import { postgresLocation } from '../location.js';
import { checkSchemaVersion } from '../schemaVersion.js';
import { applyGroup } from './applyGroup.js';
import { migrate, readSchemaVersion } from './migrate.js';
import { POSTGRES_MIGRATIONS } from './migrationList.js';
import { createPool, inTransaction, type PostgresOptions } from './pool.js';
import { PRUNE_APPLIED_JOBS } from './sql/appliedJobs.js';
import { READ_COUNTERS } from './sql/counters.js';
import {
  COUNT_EVENTS,
  LIST_EVENTS,
  LIST_EVENTS_JSON,
  LIST_EVENTS_OF_TOPIC,
  LIST_EVENTS_OF_TOPIC_JSON,
} from './sql/listEvents.js';
import { COUNT_TOPICS, LIST_TOPICS } from './sql/topics.js';

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

  async listEvents({ topic, after, limit }: ListQuery): Promise<StoredEventRow[]> {
    const { rows } =
      topic === undefined
        ? await this.pool.query<StoredEventRow>({ name: 'list_events', text: LIST_EVENTS, values: [after, limit] })
        : await this.pool.query<StoredEventRow>({
            name: 'list_events_of_topic',
            text: LIST_EVENTS_OF_TOPIC,
            values: [topic, after, limit],
          });
    return rows;
  }

  async listEventsAsJson({ topic, after, limit }: ListQuery): Promise<EventJsonRow[]> {
    const { rows } =
      topic === undefined
        ? await this.pool.query<EventJsonRow>({
            name: 'list_events_json',
            text: LIST_EVENTS_JSON,
            values: [after, limit],
            rowMode: 'array',
          })
        : await this.pool.query<EventJsonRow>({
            name: 'list_events_of_topic_json',
            text: LIST_EVENTS_OF_TOPIC_JSON,
            values: [topic, after, limit],
            rowMode: 'array',
          });
    return rows;
  }

  async readCounters(): Promise<StoreCounters> {
    const { rows } = await this.pool.query<StoreCounters>({ name: 'read_counters', text: READ_COUNTERS });
    const row = rows[0];
    if (!row) throw new Error('the store has no counters row; was it created by a worker?');
    return row;
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

class PostgresWriter extends PostgresReader implements EventStoreWriter {
  applyBatches(batches: readonly BatchToApply[]): Promise<ApplyOutcome[]> {
    return inTransaction(this.pool, (client) => applyGroup(client, batches));
  }

  async pruneAppliedJobs(cutoffMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(PRUNE_APPLIED_JOBS, [cutoffMs]);
    return rowCount ?? 0;
  }
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
    return new PostgresWriter(pool, postgresLocation(options.url));
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
