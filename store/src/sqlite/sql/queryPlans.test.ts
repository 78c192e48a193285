import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SQLITE_MIGRATIONS } from '../migrations.js';
import { LIST_EVENTS, LIST_EVENTS_JSON } from './listEvents.js';
import { LIST_EVENTS_OF_TOPIC, LIST_EVENTS_OF_TOPIC_JSON } from './listEventsOfTopic.js';
import { LIST_EVENTS_OF_TOPIC_SET, LIST_EVENTS_OF_TOPIC_SET_JSON } from './listEventsOfTopicSet.js';
import { listEventsOfTopics } from './listEventsOfTopics.js';
import { LIST_TOPICS_IN_RANGE } from './listTopicsInRange.js';
import { TOPIC_STATS } from './topicStats.js';

/**
 * The plans SQLite chooses for the reads a page or a stream runs, on the real schema: each reads an
 * index in the order it returns rows, so a page costs about `limit` rows whatever the store holds.
 * A plan that sorts (`USE TEMP B-TREE`) would read every matching row before returning the first.
 */
describe('SQLite read statements: query plans', () => {
  let db: Database.Database;
  before(() => {
    db = new Database(':memory:');
    for (const migration of SQLITE_MIGRATIONS) db.exec(migration);
  });
  after(() => db.close());

  const planOf = (sql: string, params: unknown[] | Record<string, unknown>): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((r) => r.detail).join('\n');

  it('lists every topic by the seq index, without sorting', () => {
    for (const sql of [LIST_EVENTS, LIST_EVENTS_JSON]) {
      const plan = planOf(sql, [0, 10]);
      expect(plan).to.include('events_by_seq');
      expect(plan).to.not.include('TEMP B-TREE');
    }
  });

  it('lists one topic by its (topic, seq) index range, without sorting', () => {
    for (const sql of [LIST_EVENTS_OF_TOPIC, LIST_EVENTS_OF_TOPIC_JSON]) {
      const plan = planOf(sql, ['a', 0, 10]);
      expect(plan).to.include('events_by_topic_seq');
      expect(plan).to.not.include('TEMP B-TREE');
    }
  });

  it('merges several topics branch by branch, each in seq order, without sorting', () => {
    for (const json of [false, true]) {
      const plan = planOf(listEventsOfTopics(3, json), { after: 0, limit: 10, t0: 'a', t1: 'b', t2: 'c' });
      expect(plan).to.include('MERGE (UNION ALL)');
      expect(plan.match(/events_by_topic_seq/g)).to.have.length(3);
      expect(plan).to.not.include('TEMP B-TREE');
    }
  });

  it('refuses to build a merge of no topic', () => {
    expect(() => listEventsOfTopics(0, false)).to.throw(/at least one topic/);
  });

  it('reads a large set of topics by the seq index, not by each topic and a sort', () => {
    for (const sql of [LIST_EVENTS_OF_TOPIC_SET, LIST_EVENTS_OF_TOPIC_SET_JSON]) {
      const plan = planOf(sql, { after: 0, limit: 10, set: '["a","b"]' });
      expect(plan).to.include('events_by_seq');
      expect(plan).to.not.include('events_by_topic_seq');
      expect(plan).to.not.include('TEMP B-TREE');
    }
  });

  it('reads a range of topics and one topic stats from the indexes, without sorting', () => {
    expect(planOf(LIST_TOPICS_IN_RANGE, ['a', '', 'b', -1])).to.not.include('TEMP B-TREE');
    const stats = planOf(TOPIC_STATS, ['a']);
    expect(stats).to.include('events_by_topic_seq');
    expect(stats).to.not.include('SCAN events');
  });
});
