import { V1_CREATE_SCHEMA } from './sql/schema.js';

/**
 * The SQLite schema's migrations, in order: the schema version after applying the first n is n
 * (kept in `PRAGMA user_version`). Append only; never edit one that has shipped.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [V1_CREATE_SCHEMA];
