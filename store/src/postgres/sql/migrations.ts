/**
 * Inputs: none. Serialises migrations: a transaction-scoped advisory lock (per database), so a
 * second worker starting at once waits for the first one's commit and then finds nothing to do.
 * The key is an arbitrary constant (the bytes of "aggregat").
 */
export const LOCK_MIGRATIONS = 'SELECT pg_advisory_xact_lock(7018422464993387892)';

/** Inputs: none. The table of applied migrations; its largest version is the schema version. */
export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Output: `version`, 0 before the first migration. Fails with 42P01 before any worker ran. */
export const READ_SCHEMA_VERSION = 'SELECT coalesce(max(version), 0)::integer AS version FROM schema_migrations';

/** Inputs: $1 version just applied. */
export const RECORD_MIGRATION = 'INSERT INTO schema_migrations (version) VALUES ($1)';
