import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort, type ManagedChild, startApi, startWorker } from '@aggregator/load';
import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { NGINX, REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { type AccessLogEntry, type RunningNginx, withNginx } from './support/withNginx.js';
import { makeEvent, testRedisUrl, withTempDir } from './support/withStack.js';

/**
 * The load balancer as deployed: deploy/nginx.conf.template, run by a real nginx in front of two
 * API processes (the real entrypoint, each on its own port) and one worker, sharing the test
 * Redis (own key prefix) and a temp SQLite file. In compose the upstream is the `api` service
 * name; here it is the two ports; everything else is the same file.
 */

interface Balanced {
  nginx: RunningNginx;
  apis: ManagedChild[];
  /** `127.0.0.1:<port>` of each API, as nginx logs it. */
  upstreams: string[];
}

async function withBalancedStack<T>(fn: (stack: Balanced) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const env = {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: `t-${randomUUID().slice(0, 8)}`,
      SQLITE_PATH: join(dir, 'aggregator.db'),
      JOB_BACKOFF_MS: '50',
    };
    const children: ManagedChild[] = [];
    try {
      // The worker creates the store; the API replicas only read it.
      children.push(await startWorker({ name: 'worker', env: { ...env, REPLICA_ID: 'worker-0' } }));
      const ports = [await freePort(), await freePort()];
      const apis = await Promise.all(
        ports.map((port, i) =>
          startApi({
            name: `api-${i}`,
            env: { ...env, PORT: String(port), HOST: '127.0.0.1', REPLICA_ID: `api-${i}` },
          }),
        ),
      );
      children.push(...apis);
      const upstreams = ports.map((port) => `127.0.0.1:${port}`);
      return await withNginx(upstreams, (nginx) => fn({ nginx, apis, upstreams }));
    } finally {
      await Promise.allSettled(children.map((child) => child.stop()));
    }
  });
}

const json = { 'content-type': 'application/json' };

function publish(nginx: RunningNginx, body: unknown): Promise<Response> {
  return fetch(`${nginx.url}/publish`, { method: 'POST', headers: json, body: JSON.stringify(body) });
}

/** Waits until the access log holds `count` entries that match, and returns them. */
function loggedRequests(
  nginx: RunningNginx,
  count: number,
  match: (entry: AccessLogEntry) => boolean,
): Promise<AccessLogEntry[]> {
  return waitUntil(
    () => {
      const entries = nginx.accessLog().filter(match);
      return entries.length >= count && entries;
    },
    { what: `${count} matching lines in the nginx access log` },
  );
}

describe('nginx in front of API replicas (deploy/nginx.conf.template)', () => {
  before(requireTool(REDIS_SERVER, NGINX));
  it('spreads requests over both replicas', () =>
    withBalancedStack(async ({ nginx, upstreams }) => {
      for (let i = 0; i < 8; i++) {
        expect((await fetch(`${nginx.url}/healthz`)).status).to.equal(200);
      }
      const entries = await loggedRequests(nginx, 8, (e) => e.uri === '/healthz');
      const used = new Set(entries.map((e) => e.upstream));
      expect([...used].sort()).to.deep.equal([...upstreams].sort());
    }));

  it("passes the client's X-Request-Id to the replica and back, and makes one when there is none", () =>
    withBalancedStack(async ({ nginx }) => {
      const given = await fetch(`${nginx.url}/healthz`, { headers: { 'x-request-id': 'client-id.42' } });
      expect(given.headers.get('x-request-id')).to.equal('client-id.42');
      // The API would make a UUID; 32 hex digits is nginx's $request_id, which the API accepted.
      const made = await fetch(`${nginx.url}/healthz`);
      const id = made.headers.get('x-request-id');
      expect(id).to.match(/^[0-9a-f]{32}$/);
      const [entry] = await loggedRequests(nginx, 1, (e) => e.request_id === id);
      expect(entry?.status).to.equal(200);
    }));

  it('carries a published event end to end: POST /publish, then GET /events, both through nginx', () =>
    withBalancedStack(async ({ nginx }) => {
      const topic = `lb-${randomUUID().slice(0, 8)}`;
      const event = makeEvent({ topic });
      const res = await publish(nginx, event);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ accepted: 1 });
      const stored = await waitUntil(
        async () => {
          const rows = (await (await fetch(`${nginx.url}/events?topic=${topic}`)).json()) as Array<{
            event_id: string;
          }>;
          return rows.length > 0 && rows;
        },
        { what: 'the event in GET /events' },
      );
      expect(stored.map((r) => r.event_id)).to.deep.equal([event.event_id]);
    }));

  it('refuses a body over 5 MiB with 413 and passes a 4.5 MiB one to the API whole', () =>
    withBalancedStack(async ({ nginx }) => {
      const tooBig = await fetch(`${nginx.url}/publish`, {
        method: 'POST',
        headers: json,
        body: Buffer.alloc(5 * 1024 * 1024 + 1, ' '),
      });
      expect(tooBig.status).to.equal(413);
      expect(tooBig.headers.get('x-request-id')).to.match(/^[0-9a-f]{32}$/);
      await tooBig.arrayBuffer();

      // Larger than client_body_buffer_size: nginx buffers it in LB_TEMP_DIR before passing it on.
      const large = makeEvent({ payload: { blob: 'x'.repeat(4.5 * 1024 * 1024) } });
      const res = await publish(nginx, large);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ accepted: 1 });
    }));

  it('keeps serving GET and POST when a replica dies, retrying refused connections on the other', () =>
    withBalancedStack(async ({ nginx, apis, upstreams }) => {
      // Both replicas have served (and nginx holds keep-alive connections to both).
      for (let i = 0; i < 2; i++) expect((await fetch(`${nginx.url}/healthz`)).status).to.equal(200);
      await loggedRequests(nginx, 2, (e) => e.uri === '/healthz');

      const [dead, alive] = upstreams as [string, string];
      await (apis[0] as ManagedChild).kill();

      // Round-robin sends one of the first two requests to the dead replica: its connection is
      // refused, so the POST never reached it, and nginx passes it on to the live one.
      const topic = `lb-${randomUUID().slice(0, 8)}`;
      const events = Array.from({ length: 4 }, () => makeEvent({ topic }));
      for (const event of events) {
        const res = await publish(nginx, event);
        expect(res.status, await res.clone().text()).to.equal(200);
        expect(await res.json()).to.deep.equal({ accepted: 1 });
      }
      for (let i = 0; i < 4; i++) expect((await fetch(`${nginx.url}/healthz`)).status).to.equal(200);

      const retried = await loggedRequests(nginx, 1, (e) => e.method === 'POST' && e.upstream.includes(','));
      expect(retried[0]).to.include({ status: 200, upstream: `${dead}, ${alive}` });
      const published = await loggedRequests(nginx, 4, (e) => e.method === 'POST');
      expect(published.every((e) => e.status === 200 && e.upstream.endsWith(alive))).to.equal(true);

      const stored = await waitUntil(
        async () => {
          const rows = (await (await fetch(`${nginx.url}/events?topic=${topic}`)).json()) as Array<{
            event_id: string;
          }>;
          return rows.length === events.length && rows;
        },
        { what: 'every event published after the kill in GET /events' },
      );
      expect(stored.map((r) => r.event_id).sort()).to.deep.equal(events.map((e) => e.event_id).sort());
    }));
});
