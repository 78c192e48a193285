import { COLUMNS, EVENT_JSON } from './listEvents.js';

/**
 * Events of several topics in seq order, reading about `limit + topics` rows whatever the topics
 * hold. Inputs: $1 after (seq), $2 limit, $3 head (the highest seq to return), $4 … one topic each
 * (`topics` of them). Output: as LIST_EVENTS (or LIST_EVENTS_JSON with `json`). `head` is the seq
 * up to which the topics were read (LIST_TOPICS_IN_RANGE_AT_HEAD): no event above it is returned,
 * as a topic created since may hold events below the ones of these topics above it.
 *
 * One branch per topic reads its `(topic, seq)` index range from `after` on, in seq order; under
 * the outer ORDER BY PostgreSQL plans a Merge Append of those index scans, which pulls a row from
 * a branch only when the merge takes its previous one, so the outer LIMIT stops them all
 * (test/postgresQueries.test.ts checks the plan).
 */
export function listEventsOfTopics(topics: number, json: boolean): string {
  if (topics < 1) throw new Error('listEventsOfTopics needs at least one topic');
  const columns = json ? `seq, ${EVENT_JSON} AS json` : COLUMNS;
  const branch = (i: number) =>
    `SELECT ${columns} FROM events WHERE topic = $${i + 4} AND seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2`;
  // One topic: a single SELECT, which takes no second ORDER BY.
  if (topics === 1) return branch(0);
  const branches = Array.from({ length: topics }, (_, i) => `(${branch(i)})`);
  return `${branches.join('\nUNION ALL\n')}\nORDER BY seq LIMIT $2`;
}

/**
 * Events of many topics in seq order, by the seq index: for patterns whose topics hold much of the
 * store (`scansSeqIndex`, ../../topicSelection.ts). Inputs: $1 after (seq), $2 limit, $3 head (as
 * in listEventsOfTopics), $4 the topics (text[]).
 */
export const LIST_EVENTS_OF_TOPIC_SET = `
SELECT ${COLUMNS} FROM events WHERE seq > $1 AND seq <= $3 AND topic = ANY($4::text[]) ORDER BY seq LIMIT $2`;

/** As LIST_EVENTS_OF_TOPIC_SET; output: rows of `seq, json`. */
export const LIST_EVENTS_OF_TOPIC_SET_JSON = `
SELECT seq, ${EVENT_JSON} AS json FROM events WHERE seq > $1 AND seq <= $3 AND topic = ANY($4::text[]) ORDER BY seq LIMIT $2`;
