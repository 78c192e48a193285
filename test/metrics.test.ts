import { freePort } from '@aggregator/stack';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withStack } from './support/withStack.js';

const ADMIN_TOKEN = 'admin-secret-0123456789';

/** The value of one sample line, e.g. `aggregator_events{kind="received",service="api"} 3`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics (API)', () => {
  before(requireTool(REDIS_SERVER));
  it('reports request durations, the exact counters, queue jobs, workers and process metrics', () =>
    withStack({}, async (stack) => {
      const e = makeEvent();
      await stack.publish([e, e, makeEvent()]);
      await stack.settle(3);
      const res = await stack.request({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain/);
      const text = res.body;
      expect(sample(text, 'aggregator_events', { kind: 'received' })).to.equal(3);
      expect(sample(text, 'aggregator_events', { kind: 'unique_processed' })).to.equal(2);
      expect(sample(text, 'aggregator_events', { kind: 'duplicate_dropped' })).to.equal(1);
      expect(sample(text, 'aggregator_events_accepted_total')).to.equal(3);
      expect(sample(text, 'aggregator_queue_jobs', { state: 'failed' })).to.equal(0);
      expect(
        sample(text, 'aggregator_http_request_duration_seconds_count', { route: '/publish', status: '200' }),
      ).to.equal(1);
      expect(text).to.match(/^aggregator_process_resident_memory_bytes/m);
      // Redis memory against its limit, per master (the shared test Redis has no maxmemory).
      expect(sample(text, 'aggregator_redis_memory_bytes', { kind: 'used' })).to.be.greaterThan(0);
      expect(sample(text, 'aggregator_redis_memory_bytes', { kind: 'max' })).to.equal(0);
    }));

  it('is protected by READ_TOKEN', () =>
    withStack({ workers: 0, env: { READ_TOKEN: 'read-secret-0123456789' } }, async (stack) => {
      expect((await stack.request({ method: 'GET', url: '/metrics' })).statusCode).to.equal(401);
    }));
});

describe('worker metrics (METRICS_PORT)', function () {
  this.timeout(30_000);
  before(requireTool(REDIS_SERVER));

  it('serves job, batch-size, SQLite and outcome metrics on its own port', () =>
    withProcessStack({ workers: 0, apis: 0 }, async (stack) => {
      const port = await freePort();
      await Promise.all([stack.startWorker({ METRICS_PORT: String(port), HOST: '127.0.0.1' }), stack.startApi()]);
      const e = makeEvent();
      await stack.publish([e, e, makeEvent(), makeEvent()]);
      await stack.settle(4);
      const text = await waitUntil(async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return sample(body, 'aggregator_events_processed_total', { outcome: 'inserted' }) === 3 && body;
      });
      expect(sample(text, 'aggregator_events_processed_total', { outcome: 'duplicate' })).to.equal(1);
      expect(sample(text, 'aggregator_job_events_count')).to.equal(1);
      expect(sample(text, 'aggregator_sqlite_transaction_seconds_count')).to.be.at.least(1);
      expect(sample(text, 'aggregator_job_duration_seconds_count')).to.be.at.least(1);
      // The second copy of e was claimed by the same job: not a hit. The budget: 256 MiB, since
      // the stack's Redis has no maxmemory.
      expect(sample(text, 'aggregator_fast_path_lookups_total', { result: 'miss' })).to.equal(4);
      expect(sample(text, 'aggregator_fast_path_budget_bytes')).to.equal(256 * 1024 ** 2);
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).to.equal(404);
    }));
});

describe('queue UI (bull-board)', () => {
  before(requireTool(REDIS_SERVER));
  it('is not served without ADMIN_TOKEN', () =>
    withStack({ workers: 0 }, async (stack) => {
      expect((await stack.request({ method: 'GET', url: '/admin/queues' })).statusCode).to.equal(404);
    }));

  it('asks for the admin token and serves the UI and its API with it', () =>
    withStack({ workers: 0, env: { ADMIN_TOKEN } }, async (stack) => {
      const denied = await stack.request({ method: 'GET', url: '/admin/queues' });
      expect(denied.statusCode).to.equal(401);
      expect(denied.headers['www-authenticate']).to.match(/^Basic /);
      const wrong = Buffer.from('admin:not-the-token').toString('base64');
      expect(
        (await stack.request({ method: 'GET', url: '/admin/queues', headers: { authorization: `Basic ${wrong}` } }))
          .statusCode,
      ).to.equal(401);

      const basic = Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64');
      const page = await stack.request({
        method: 'GET',
        url: '/admin/queues',
        headers: { authorization: `Basic ${basic}` },
      });
      expect(page.statusCode).to.equal(200);
      expect(page.headers['content-type']).to.match(/text\/html/);

      await stack.publish(makeEvent());
      const api = await stack.request({
        method: 'GET',
        url: '/admin/queues/api/queues',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(api.statusCode).to.equal(200);
      expect(JSON.stringify(api.json())).to.contain(stack.keys.queues[0]?.queueName);
    }));
});
