import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createKeys, createRedis, type Event, quitRedis, waitReady } from '@aggregator/common';
import { freePort } from '@aggregator/stack';
import { FastPath, fastPathGeometry } from '@aggregator/worker';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { type ProcessStack, withProcessStack } from './support/processStack.js';
import { publishInBatches } from './support/publishInBatches.js';
import { keysMemory, usedMemory } from './support/redisMemory.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';

const MiB = 1024 ** 2;
/** What the compose file's Redis runs with, scaled down: `maxmemory` and `noeviction`. */
const MAXMEMORY = 16 * MiB;
/** Distinct events per round, and rounds: the old one-key-per-pair fast path (about 226 bytes a
 * pair, measured) filled this Redis after about 70,000 pairs. */
const ROUND = 10_000;
const ROUNDS = 20;

/** The worker's fast-path hits, from its own `/metrics`. */
async function fastPathHits(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(/^aggregator_fast_path_lookups_total\{result="hit"[^}]*\} (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

const event = (round: number, i: number): Event => ({
  topic: `budget.r${round % 4}`,
  event_id: `r${round}-${i}`,
  timestamp: '2025-01-31T12:00:00Z',
  source: 'fast-path-budget',
  payload: { i },
});

describe('fast-path memory budget (processes, Redis at maxmemory with noeviction)', function () {
  this.timeout(240_000);
  before(requireTool(REDIS_SERVER));

  it('never refuses a publish for fast-path memory, however many distinct events, and stays exact', () =>
    withProcessStack({ workers: 0 }, async (stack: ProcessStack) => {
      const admin = createRedis(stack.redis.url, 'blocking', 'budget-admin');
      try {
        await waitReady(admin, 5000);
        await admin.config('SET', 'maxmemory', String(MAXMEMORY));
        const metricsPort = await freePort();
        await stack.startWorker({ METRICS_PORT: String(metricsPort) });

        let received = 0;
        let duplicates = 0;
        let recentDuplicates = 0;
        let otherMemoryAfterWarmUp = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const fresh = Array.from({ length: ROUND }, (_, i) => event(round, i));
          // 20 % duplicates: half retried within the round, half replayed from the first round.
          const retried = fresh.filter((_, i) => i % 10 === 0);
          const replayed = round > 0 ? Array.from({ length: ROUND / 10 }, (_, i) => event(0, i * 7)) : [];
          const body = [...fresh, ...retried, ...replayed];
          await publishInBatches((b) => stack.publish(b).then((r) => ({ statusCode: r.status })), body, {
            size: 500,
            parallel: 4,
          });
          received += body.length;
          duplicates += retried.length + replayed.length;
          recentDuplicates += retried.length;
          await stack.settle(received);
          // Past the first rounds, nothing but the fast path may grow with what was processed.
          const other = (await usedMemory(admin)) - (await keysMemory(admin, '*fastpath*')).bytes;
          if (round === 3) otherMemoryAfterWarmUp = other;
          if (round > 3)
            expect(other, `memory besides the fast path, round ${round}`).to.be.below(otherMemoryAfterWarmUp + MiB);
        }

        const stats = await stack.stats();
        expect(stats).to.include({
          received,
          unique_processed: ROUNDS * ROUND,
          duplicate_dropped: duplicates,
        });
        const db = new Database(join(stack.dir, 'aggregator.db'), { readonly: true });
        try {
          expect(db.prepare('SELECT count(*) AS n FROM events').get()).to.deep.equal({ n: ROUNDS * ROUND });
        } finally {
          db.close();
        }
        // The budget: 25 % of maxmemory by default, and the fast path held to it.
        const budget = MAXMEMORY / 4;
        expect((await keysMemory(admin, '*fastpath*')).bytes).to.be.at.most(budget);
        // Duplicates within the budget's reach were dropped by the fast path; the first round's
        // pairs fell out of it long ago, so the store decided those.
        expect(await fastPathHits(`http://127.0.0.1:${metricsPort}/metrics`)).to.be.at.least(recentDuplicates);
        const probe = new FastPath(
          admin,
          createKeys(stack.env.REDIS_PREFIX as string).queue(0),
          fastPathGeometry(budget, 86_400),
        );
        const [recent, old] = (await probe.claim([event(ROUNDS - 1, 1), event(0, 1)], randomUUID())) as string[];
        expect(recent, 'a pair of the last round').to.not.equal('');
        expect(old, 'a pair of the first round').to.equal('');
      } finally {
        await quitRedis(admin);
      }
    }));

  it('reports not ready within seconds while Redis refuses writes, and ready when it takes them', () =>
    withProcessStack({ workers: 0 }, async (stack: ProcessStack) => {
      const admin = createRedis(stack.redis.url, 'blocking', 'readyz-admin');
      const readyz = async () => {
        const reply = await fetch(`${stack.apiUrl}/readyz`);
        return { status: reply.status, body: (await reply.json()) as { error?: { message: string } } };
      };
      try {
        await waitReady(admin, 5000);
        // The worker creates the store; then every check is up.
        await stack.startWorker();
        await waitUntil(async () => (await readyz()).status === 200, { what: '/readyz to answer 200' });
        for (const [refuse, allow, reason] of [
          [() => admin.config('SET', 'maxmemory', '1'), () => admin.config('SET', 'maxmemory', '0'), /OOM/],
          [() => admin.replicaof('127.0.0.1', 1), () => admin.replicaof('NO', 'ONE'), /READONLY/],
        ] as const) {
          await refuse();
          const down = await waitUntil(
            async () => {
              const r = await readyz();
              return r.status === 503 && r;
            },
            { timeoutMs: 5000, what: '/readyz to answer 503' },
          );
          expect(down.body.error?.message)
            .to.match(/^not ready: redis is down/)
            .and.to.match(reason);
          await allow();
          await waitUntil(async () => (await readyz()).status === 200, {
            timeoutMs: 5000,
            what: '/readyz back to 200',
          });
        }
      } finally {
        await quitRedis(admin);
      }
    }));
});
