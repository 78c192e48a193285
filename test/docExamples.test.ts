import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import {
  type CurlRequest,
  curlRequest,
  type DocExample,
  docExamples,
  documentedBody,
  replyPattern,
} from './support/docExamples.js';
import { type ProcessStack, withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/**
 * Every curl example of the README and docs/ runs, in the order of its file, against a fresh
 * stack of real processes (the one `npm start` runs), and its reply is compared with the one the
 * docs show: so the docs cannot drift from what the service says (support/docExamples.ts says how
 * an example is read). Before each read the test waits until the workers have stored all that was
 * accepted, as a person typing would.
 */

const FILES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).map((name) => `docs/${name}`)].filter((f) =>
  f.endsWith('.md'),
);

interface Reply {
  status: number;
  headers: Headers;
  /** The body, or the first lines of a stream. */
  text: string;
}

async function send(stack: ProcessStack, request: CurlRequest, lines: number): Promise<Reply> {
  const abort = new AbortController();
  const res = await fetch(`${stack.apiUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: abort.signal,
  });
  if (!request.stream) return { status: res.status, headers: res.headers, text: (await res.text()).trim() };
  // A stream does not end: read until it has shown as many lines as the docs do.
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const deadline = setTimeout(() => abort.abort(), 10_000);
  try {
    while (reader && text.split('\n').length <= lines) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // Aborted at the deadline: compare what came.
  } finally {
    clearTimeout(deadline);
    abort.abort();
  }
  return { status: res.status, headers: res.headers, text: text.split('\n').slice(0, lines).join('\n') };
}

function compare(example: DocExample, request: CurlRequest, reply: Reply): void {
  const context = `${example.where}: ${example.command}\nactual reply (${reply.status}):\n${reply.text}`;
  expect(example.reply, `${context}\nthe example documents no reply`).to.not.deep.equal([]);
  let body = example.reply;
  if (request.showHeaders) {
    const firstBodyLine = body.findIndex((line) => !/^[A-Za-z][\w-]*: /.test(line));
    const headerCount = firstBodyLine < 0 ? body.length : firstBodyLine;
    for (const line of body.slice(0, headerCount)) {
      const [name = '', ...value] = line.split(': ');
      const actual = reply.headers.get(name) ?? '(none)';
      expect(actual, `${context}\nheader ${name}`).to.match(replyPattern(value.join(': ')));
    }
    body = body.slice(headerCount);
  }
  if (request.stream) {
    const actual = reply.text.split('\n');
    body.forEach((line, i) => {
      expect(actual[i], `${context}\nstream line ${i + 1}`).to.match(replyPattern(line));
    });
    return;
  }
  expect(reply.text, context).to.match(replyPattern(documentedBody(body)));
}

describe('the examples of the README and docs/, run against a real stack', function () {
  this.timeout(60_000);
  before(requireTool(REDIS_SERVER));

  it('finds the examples: the README and docs/api.md show their replies', () => {
    for (const file of ['README.md', 'docs/api.md']) {
      const examples = docExamples(readFileSync(join(REPO_ROOT, file), 'utf8'), file);
      expect(examples.length, file).to.be.at.least(5);
      for (const e of examples) expect(e.reply, e.where).to.not.deep.equal([]);
    }
  });

  for (const file of FILES) {
    const examples = docExamples(readFileSync(join(REPO_ROOT, file), 'utf8'), file);
    if (examples.length === 0) continue;
    it(`${file}: each reply is the one shown`, () =>
      withProcessStack({ env: { STREAM_HEARTBEAT_MS: '300' } }, async (stack) => {
        let accepted = 0;
        for (const example of examples) {
          const request = curlRequest(example.command);
          if (request.method === 'GET') {
            await waitUntil(
              async () => {
                const stats = await stack.stats();
                return stats.received === accepted && stats.queue.waiting + stats.queue.active === 0;
              },
              { what: `the ${accepted} accepted events to be processed` },
            );
          }
          const reply = await send(stack, request, example.reply.length);
          compare(example, request, reply);
          if (request.path === '/publish' && reply.status === 200) {
            accepted += (JSON.parse(reply.text) as { accepted: number }).accepted;
          }
        }
      }));
  }
});

/** docs/operating.md's table of metrics: each metric (or `prefix_*`) and the label names it lists. */
function documentedMetrics(): Map<string, string[]> {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'operating.md'), 'utf8');
  const metrics = new Map<string, string[]>();
  for (const row of text.split('\n').filter((line) => line.startsWith('| `aggregator_'))) {
    const [, names = '', , labels = ''] = row.split('|').map((cell) => cell.trim());
    // `a`, `b`: values; `c` (e.g. `X`); parts split by `;`: the names before each part's colon.
    const labelNames = labels.split(';').flatMap((part) => {
      const named = part.includes(':') ? part.slice(0, part.indexOf(':')) : part.replace(/\([^)]*\)/g, '');
      return [...named.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] ?? '');
    });
    for (const m of names.matchAll(/`([a-z_*]+)`/g)) metrics.set(m[1] ?? '', labelNames.sort());
  }
  return metrics;
}

/** Each metric a /metrics text has samples of, with the label names of its samples. */
function servedMetrics(text: string): Map<string, Set<string>> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1] ?? '', m[2] ?? '');
  const served = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^([a-z_]+)(?:\{([^}]*)\})? /gm)) {
    const sample = m[1] ?? '';
    const metric = types.has(sample) ? sample : sample.replace(/_(bucket|sum|count)$/, '');
    const labels = [...(m[2] ?? '').matchAll(/([a-z_]+)="/g)].map((l) => l[1] ?? '');
    const names = served.get(metric) ?? new Set<string>();
    for (const name of labels) if (name !== 'service' && name !== 'le') names.add(name);
    served.set(metric, names);
  }
  return served;
}

describe("docs/operating.md's metrics, against what the processes serve", function () {
  this.timeout(60_000);
  before(requireTool(REDIS_SERVER));

  it('lists every metric the API and a worker serve, with the labels they carry', () =>
    withProcessStack({ workers: 0 }, async (stack) => {
      const port = await freePort();
      await stack.startWorker({ METRICS_PORT: String(port), HOST: '127.0.0.1' });
      const event = makeEvent();
      expect((await stack.publish([event, event, makeEvent()])).status).to.equal(200);
      await stack.settle(3);
      const documented = documentedMetrics();
      expect(documented.get('aggregator_queue_jobs')).to.deep.equal(['partition', 'state']);
      for (const url of [`${stack.apiUrl}/metrics`, `http://127.0.0.1:${port}/metrics`]) {
        const served = servedMetrics(await (await fetch(url)).text());
        expect(served.size, url).to.be.above(10);
        for (const [metric, labels] of served) {
          const row =
            documented.get(metric) ??
            [...documented].find(([n]) => n.endsWith('*') && metric.startsWith(n.slice(0, -1)))?.[1];
          expect(row, `${metric} (${url}) is in the table`).to.not.equal(undefined);
          if (metric.startsWith('aggregator_process_') || metric.startsWith('aggregator_nodejs_')) continue;
          expect([...labels].sort(), `the labels of ${metric}`).to.deep.equal(row);
        }
      }
    }));
});
