import { V1_CREATE_SCHEMA, V2_TOPICS_BY_NAME_BYTES, V3_PARALLEL_WRITERS, V4_STEP_HEAD_FUNCTION } from './sql/schema.js';

/**
 * The PostgreSQL schema's migrations, in order: the schema version after applying the first n is
 * n (the largest version in `schema_migrations`). Append only; never edit one that has shipped.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  V1_CREATE_SCHEMA,
  V2_TOPICS_BY_NAME_BYTES,
  V3_PARALLEL_WRITERS,
  V4_STEP_HEAD_FUNCTION,
];
