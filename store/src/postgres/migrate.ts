import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { checkSchemaVersion } from '../schemaVersion.js';
import { POSTGRES_MIGRATIONS } from './migrationList.js';
import { inTransaction, type Queryable } from './pool.js';
import { CREATE_MIGRATIONS_TABLE, LOCK_MIGRATIONS, READ_SCHEMA_VERSION, RECORD_MIGRATION } from './sql/migrations.js';
import { INIT_COUNTERS } from './sql/schema.js';

/** The schema version of the store behind `db`. Fails with 42P01 when no worker has created it. */
export async function readSchemaVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ version: number }>(READ_SCHEMA_VERSION);
  return rows[0]?.version ?? 0;
}

/**
 * Brings the schema up to this build's version in one transaction, under an advisory lock: several
 * workers starting at once queue on the lock, the first applies what is missing, the others then
 * find it done. DDL is transactional in PostgreSQL, so a crash leaves the previous version whole.
 *
 * @returns the versions before and after
 * @throws SchemaVersionError when the store is newer than this build
 */
export function migrate(pool: pg.Pool): Promise<{ from: number; to: number }> {
  return inTransaction(pool, async (client) => {
    await client.query(LOCK_MIGRATIONS);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const from = await readSchemaVersion(client);
    checkSchemaVersion(from, POSTGRES_MIGRATIONS.length, 'writer');
    for (const [i, migration] of POSTGRES_MIGRATIONS.entries()) {
      if (i < from) continue;
      await client.query(migration);
      await client.query(RECORD_MIGRATION, [i + 1]);
    }
    await client.query(INIT_COUNTERS, [randomUUID(), Date.now()]);
    return { from, to: POSTGRES_MIGRATIONS.length };
  });
}
