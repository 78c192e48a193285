/**
 * Version 1 of the PostgreSQL schema (see ../migrations.ts). The same tables as SQLite's, with
 * three choices of its own:
 *
 * - events.payload is `text`: the JSON text exactly as accepted. `jsonb` would reorder keys,
 *   drop duplicate ones and normalise numbers, and `GET /events` promises the payload unchanged.
 * - `PRIMARY KEY (topic, event_id)`, topic first and no foreign keys: the distribution column of a
 *   sharded engine (Citus, YugabyteDB) must lead every unique key (docs/postgres.md).
 * - counters is the single row every writer locks first (`FOR UPDATE`) and holds to its commit:
 *   that serialises seq assignment, so rows become visible in seq order and a reader tailing
 *   `after=` never skips one (docs/postgres.md, "Tailing").
 */
export const V1_CREATE_SCHEMA = `
CREATE TABLE events (
  topic        text   NOT NULL,
  event_id     text   NOT NULL,
  timestamp    text   NOT NULL,
  source       text   NOT NULL,
  payload      text   NOT NULL,
  seq          bigint NOT NULL,
  processed_at text   NOT NULL,
  PRIMARY KEY (topic, event_id)
);
CREATE UNIQUE INDEX events_by_seq ON events (seq);
CREATE INDEX events_by_topic_seq ON events (topic, seq);

CREATE TABLE counters (
  id                integer PRIMARY KEY CHECK (id = 1),
  received          bigint  NOT NULL,
  unique_processed  bigint  NOT NULL,
  duplicate_dropped bigint  NOT NULL,
  store_id          text    NOT NULL,
  created_at        bigint  NOT NULL
);

CREATE TABLE topics (
  topic        text   PRIMARY KEY,
  unique_count bigint NOT NULL
);

CREATE TABLE applied_jobs (
  job_id     text   PRIMARY KEY,
  applied_at bigint NOT NULL
);
CREATE INDEX applied_jobs_by_time ON applied_jobs (applied_at);
`;

/** Inputs: $1 store_id (random), $2 created_at (epoch ms). Creates the counters row once. */
export const INIT_COUNTERS = `
INSERT INTO counters (id, received, unique_processed, duplicate_dropped, store_id, created_at)
VALUES (1, 0, 0, 0, $1, $2)
ON CONFLICT (id) DO NOTHING`;

/**
 * Version 2: the topics in byte order, as SQLite keeps them. The primary key sorts by the
 * database's collation (often a locale's, where `eu.` prefixes are not one range), so topic
 * patterns (their literal prefix is a range of names) and `GET /topics` pages read this one.
 */
export const V2_TOPICS_BY_NAME_BYTES = `
CREATE INDEX topics_by_name_bytes ON topics (topic COLLATE "C");
`;
