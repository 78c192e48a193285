/**
 * Version 1 of the SQLite schema (see ../migrations.ts), applied by the first writer at start-up
 * inside one immediate transaction, so concurrent workers cannot race.
 *
 * - events: one row per unique pair. `PRIMARY KEY (topic, event_id)` is the authoritative dedup;
 *   `seq` is the processing order, assigned by the writer as `unique_processed + 1` inside the same
 *   transaction, so it is strictly increasing and never reused.
 * - counters: the single row of exact counters, changed in the same transaction as the events;
 *   `store_id` names this database (the Redis counters carry it), `created_at` is when the service was
 *   first started on it (epoch ms).
 * - topics: each topic with its number of unique events.
 * - applied_jobs: queue jobs whose effect is committed, so a job redelivered after a crash between
 *   the commit and the acknowledgement is not counted twice, and so a fast-path claim by a job
 *   can be trusted only once that job is applied here. Pruned after a retention period.
 */
export const V1_CREATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  topic        TEXT    NOT NULL,
  event_id     TEXT    NOT NULL,
  timestamp    TEXT    NOT NULL,
  source       TEXT    NOT NULL,
  payload      TEXT    NOT NULL,
  seq          INTEGER NOT NULL,
  processed_at TEXT    NOT NULL,
  PRIMARY KEY (topic, event_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_seq ON events (seq);
CREATE INDEX IF NOT EXISTS events_by_topic_seq ON events (topic, seq);

CREATE TABLE IF NOT EXISTS counters (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  received          INTEGER NOT NULL,
  unique_processed  INTEGER NOT NULL,
  duplicate_dropped INTEGER NOT NULL,
  store_id          TEXT    NOT NULL,
  created_at        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS topics (
  topic        TEXT    PRIMARY KEY,
  unique_count INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS applied_jobs (
  job_id     TEXT    PRIMARY KEY,
  applied_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS applied_jobs_by_time ON applied_jobs (applied_at);
`;
