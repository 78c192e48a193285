import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, eventId, type PublishEvent } from '@aggregator/client';
import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { dashboardExpressions, metricNamesIn, readRules } from './support/monitoringFiles.js';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { PROMETHEUS, PROMTOOL, REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { withTempDir } from './support/withStack.js';

const run = promisify(execFile);
const RULES = join(REPO_ROOT, 'deploy/prometheus/alerts.yml');

interface QueryReply {
  status: 'success' | 'error';
  error?: string;
  data?: { result: unknown[] };
}

/** A Prometheus of the test's own on a free loopback port, scraping `targets` every second. */
async function withPrometheus<T>(
  dir: string,
  targets: { api: string; worker: string },
  fn: (query: (expr: string) => Promise<QueryReply>, get: (path: string) => Promise<unknown>) => Promise<T>,
): Promise<T> {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [
        { job_name: 'aggregator-api', static_configs: [{ targets: [targets.api] }] },
        { job_name: 'aggregator-worker', static_configs: [{ targets: [targets.worker] }] },
      ],
    }),
  );
  const port = await freePort();
  const prometheus = new ManagedChild({
    name: 'prometheus',
    command: PROMETHEUS.find(process.env) as string,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    env: process.env,
  });
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string) => (await fetch(`${base}${path}`)).json();
  try {
    await waitUntil(async () => (await fetch(`${base}/-/ready`)).ok, { what: 'Prometheus ready', timeoutMs: 30_000 });
    return await fn((expr) => get(`/api/v1/query?query=${encodeURIComponent(expr)}`) as Promise<QueryReply>, get);
  } finally {
    await prometheus.stop();
  }
}

function makeEvents(count: number): PublishEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    topic: `mon.t${i % 4}`,
    event_id: eventId(),
    timestamp: new Date().toISOString(),
    source: 'monitoring-test',
  }));
}

describe('monitoring: alert rules and dashboard', function () {
  this.timeout(120_000);

  it('passes the unit tests of the alert rules (promtool test rules)', async function () {
    requireTool(PROMTOOL).call(this);
    const promtool = PROMTOOL.find(process.env) as string;
    await run(promtool, ['check', 'rules', RULES]);
    const { stdout } = await run(promtool, ['test', 'rules', join(REPO_ROOT, 'deploy/prometheus/alerts.test.yml')]);
    expect(stdout).to.include('SUCCESS');
    // The compose file's Prometheus config loads, rule file included.
    await run(promtool, ['check', 'config', join(REPO_ROOT, 'deploy/prometheus/prometheus.yml')]);
  });

  it('runs every dashboard and rule expression on a real Prometheus scraping a stack under load', async function () {
    requireTool(PROMETHEUS).call(this);
    requireTool(REDIS_SERVER).call(this);
    const metricsPort = await freePort();
    await withTempDir((dir) =>
      withProcessStack({ env: { METRICS_PORT: String(metricsPort) } }, async (stack) => {
        const client = new Client({ url: stack.apiUrl });
        const stop = new AbortController();
        // Load the whole time Prometheus scrapes: publishes with duplicates, a stream, pages and /stats.
        const subscription = client.subscribe({ topicPattern: 'mon.>', signal: stop.signal, onEvent: () => {} });
        const load = (async () => {
          const publisher = client.publisher({ maxBatchEvents: 50 });
          while (!stop.signal.aborted) {
            const events = makeEvents(100);
            await publisher.publish([...events, ...events.slice(0, 20)]);
            for await (const _ of client.pages({ topic: 'mon.t0', limit: 10, signal: stop.signal })) break;
            await stack.stats();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          await publisher.close();
        })().catch((e: unknown) => {
          if (!stop.signal.aborted) throw e;
        });
        try {
          const targets = { api: new URL(stack.apiUrl).host, worker: `127.0.0.1:${metricsPort}` };
          await withPrometheus(dir, targets, async (query, get) => {
            const rules = readRules();
            const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
            const mustReturnData = [
              ...dashboardExpressions(),
              ...rules.filter((r) => r.record).map((r) => r.expr),
              ...recorded,
            ];
            // Each must parse and, once a few scrapes are in, return samples.
            let empty: string[] = mustReturnData;
            await waitUntil(
              async () => {
                const replies = await Promise.all(
                  mustReturnData.map(async (expr) => ({ expr, reply: await query(expr) })),
                );
                for (const { expr, reply } of replies)
                  expect(reply.status, `${expr}: ${reply.error}`).to.equal('success');
                empty = replies.filter(({ reply }) => (reply.data?.result.length ?? 0) === 0).map((r) => r.expr);
                return empty.length === 0;
              },
              { what: 'every dashboard and recording expression to return data', timeoutMs: 45_000, intervalMs: 500 },
            ).catch(() => {});
            expect(empty, 'expressions without data').to.deep.equal([]);

            // Alerts fire only on trouble: each must parse, and evaluate without error.
            for (const rule of rules.filter((r) => r.alert)) {
              const reply = await query(rule.expr);
              expect(reply.status, `${rule.alert}: ${reply.error}`).to.equal('success');
            }
            const ruleHealth = (await get('/api/v1/rules')) as {
              data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
            };
            const evaluated = ruleHealth.data.groups.flatMap((g) => g.rules);
            expect(evaluated).to.have.length(rules.length);
            for (const r of evaluated) expect(r.health, `${r.name}: ${r.lastError}`).to.equal('ok');

            // Every metric name named exists in what the stack exports (a labelled counter that
            // never moved has no sample, but its metadata is scraped all the same).
            const metadata = (await get('/api/v1/metadata')) as { data: Record<string, unknown> };
            const withSamples = (await get('/api/v1/label/__name__/values')) as { data: string[] };
            const known = new Set([...Object.keys(metadata.data), ...withSamples.data, ...recorded]);
            const named = [...dashboardExpressions(), ...rules.map((r) => r.expr)].flatMap(metricNamesIn);
            expect([...new Set(named)].filter((name) => !known.has(name))).to.deep.equal([]);
          });
        } finally {
          stop.abort();
          await load;
          await subscription.close();
        }
      }),
    );
  });
});
