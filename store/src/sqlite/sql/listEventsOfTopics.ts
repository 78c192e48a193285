import { COLUMNS, EVENT_JSON } from './eventColumns.js';

/**
 * Events of several topics in seq order, reading about `limit + topics` rows whatever the topics
 * hold. Inputs: @after (seq), @limit, @t0 … @t<n-1> one topic each. Output: as LIST_EVENTS (or
 * LIST_EVENTS_JSON with `json`).
 *
 * One branch per topic reads its `(topic, seq)` index range from `after` on, already in seq order;
 * SQLite runs a compound SELECT with an ORDER BY as a merge of its branches, each advanced only when
 * the merge takes its row (EXPLAIN QUERY PLAN: `MERGE (UNION ALL)`, no temp b-tree), so the LIMIT
 * stops them all. A LIMIT inside each branch would need a subquery, which SQLite sorts in a temp
 * b-tree: `limit` rows per topic read before the first is returned.
 */
export function listEventsOfTopics(topics: number, json: boolean): string {
  if (topics < 1) throw new Error('listEventsOfTopics needs at least one topic');
  const columns = json ? `seq, ${EVENT_JSON}` : COLUMNS;
  const branches = Array.from(
    { length: topics },
    (_, i) => `SELECT ${columns} FROM events WHERE topic = @t${i} AND seq > @after`,
  );
  return `${branches.join('\nUNION ALL\n')}\nORDER BY seq LIMIT @limit`;
}
