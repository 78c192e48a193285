/**
 * Version 1 of the PostgreSQL schema (see ../migrations.ts). The same tables as SQLite's, with
 * three choices of its own:
 *
 * - events.payload is `text`: the JSON text exactly as accepted. `jsonb` would reorder keys,
 *   drop duplicate ones and normalise numbers, and `GET /events` promises the payload unchanged.
 * - `PRIMARY KEY (topic, event_id)`, topic first and no foreign keys: the distribution column of a
 *   sharded engine (Citus, YugabyteDB) must lead every unique key (docs/postgres.md).
 * - counters is the single row every writer locked first (`FOR UPDATE`) and held to its commit,
 *   which serialised seq assignment, until version 3 let writers run in parallel.
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

/**
 * Inputs: $1 store_id (random), $2 created_at (epoch ms). Creates the counters' base row once (run
 * after every migration: the table is `counters_base` since version 3).
 */
export const INIT_COUNTERS = `
INSERT INTO counters_base (id, received, unique_processed, duplicate_dropped, store_id, created_at)
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

/** How many rows the counter deltas are spread over; a writer adds its group to one at random. */
export const COUNTER_SLOTS = 64;

/**
 * Version 3: writers in parallel (docs/postgres.md, "Tailing"). Upgrades a store written by
 * versions 1–2 in place, in metadata-only steps plus one pass over `events` to find its largest seq:
 *
 * - `events.seq` is drawn from the sequence `events_seq` at insert time, by writers in parallel.
 *   Sequence numbers are not commit-ordered, so readers serve only rows up to `visible_head.head`:
 *   a seq below which every writer has finished (see ../sql/visibleHead.ts). Seqs may have gaps
 *   (a rolled-back group, two writers racing for the same pair); they are never reused.
 * - The counters are `counters_base` (the totals up to this migration, and the store's identity)
 *   plus the sum of 64 `counter_slots`, each writer adding its group to one slot drawn at random:
 *   no row every writer waits for. `counters` becomes a view of that sum, so the previous build's
 *   readers still read exact counters, and its writers, whose first statement locks `counters`
 *   `FOR UPDATE`, fail (and are retried) instead of writing seqs the old way.
 */
export const V3_PARALLEL_WRITERS = `
CREATE SEQUENCE events_seq AS bigint OWNED BY events.seq;
SELECT setval('events_seq', greatest(coalesce((SELECT max(seq) FROM events), 0),
  (SELECT unique_processed FROM counters WHERE id = 1), 1),
  coalesce((SELECT max(seq) FROM events), 0) > 0 OR coalesce((SELECT unique_processed FROM counters WHERE id = 1), 0) > 0);
ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq');

CREATE TABLE visible_head (
  id          integer PRIMARY KEY CHECK (id = 1),
  head        bigint  NOT NULL,
  pending_seq bigint,
  pending_xid xid8
);
INSERT INTO visible_head (id, head) VALUES (1, coalesce((SELECT max(seq) FROM events), 0));

ALTER TABLE counters RENAME TO counters_base;
CREATE TABLE counter_slots (
  slot              smallint PRIMARY KEY,
  received          bigint   NOT NULL DEFAULT 0,
  unique_processed  bigint   NOT NULL DEFAULT 0,
  duplicate_dropped bigint   NOT NULL DEFAULT 0
);
INSERT INTO counter_slots (slot) SELECT generate_series(0, ${COUNTER_SLOTS - 1});
CREATE VIEW counters AS
SELECT b.id, b.received + s.received AS received, b.unique_processed + s.unique_processed AS unique_processed,
  b.duplicate_dropped + s.duplicate_dropped AS duplicate_dropped, b.store_id, b.created_at
FROM counters_base b CROSS JOIN (
  SELECT sum(received)::bigint AS received, sum(unique_processed)::bigint AS unique_processed,
    sum(duplicate_dropped)::bigint AS duplicate_dropped
  FROM counter_slots
) s;
`;

/**
 * Version 4: one step of the visible head as one function call (`step_visible_head()`, the
 * algorithm of ../sql/visibleHead.ts), a single round trip where the step took eight statements
 * (BEGIN, lock, reads, xid, write, COMMIT). A writer takes one or two steps after each of its
 * commits before it acknowledges its jobs, so those round trips halved a lone writer's
 * throughput. The function is PL/pgSQL and VOLATILE: each of its statements takes a fresh
 * snapshot, so the head is read after the lock is held, and the last seq is read before the xid
 * is taken, as the argument requires. Its commit does not wait for the disk (see advanceHead.ts).
 * Output: one row, `head` and `settled` (no candidate left above the head).
 */
export const V4_STEP_HEAD_FUNCTION = `
CREATE FUNCTION step_visible_head(OUT head bigint, OUT settled boolean)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  locked boolean;
  cand_seq bigint;
  cand_xid xid8;
  horizon xid8;
  last_drawn bigint;
  before_head bigint;
  before_seq bigint;
  before_xid xid8;
BEGIN
  locked := pg_try_advisory_xact_lock(7018422464993387893);
  SELECT v.head, v.pending_seq, v.pending_xid, pg_snapshot_xmin(pg_current_snapshot())
    INTO head, cand_seq, cand_xid, horizon
    FROM visible_head v WHERE v.id = 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the store has no visible_head row; was it created by a worker?';
  END IF;
  IF NOT locked THEN
    settled := false;
    RETURN;
  END IF;
  before_head := head;
  before_seq := cand_seq;
  before_xid := cand_xid;
  IF cand_seq IS NOT NULL AND horizon > cand_xid THEN
    head := greatest(head, cand_seq);
    cand_seq := NULL;
    cand_xid := NULL;
  END IF;
  IF cand_seq IS NULL THEN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO last_drawn FROM events_seq s;
    IF last_drawn > head THEN
      cand_seq := last_drawn;
      cand_xid := pg_current_xact_id();
    END IF;
  END IF;
  IF head IS DISTINCT FROM before_head OR cand_seq IS DISTINCT FROM before_seq
    OR cand_xid IS DISTINCT FROM before_xid THEN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE visible_head v SET head = step_visible_head.head, pending_seq = cand_seq, pending_xid = cand_xid
      WHERE v.id = 1;
  END IF;
  settled := cand_seq IS NULL;
END
$fn$;
`;
