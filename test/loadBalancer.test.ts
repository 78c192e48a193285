import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { ManagedChild } from '@aggregator/stack';
import { expect } from 'chai';
import { readCompose } from './support/deployFiles.js';
import { type AccessLogEntry, haproxyMajorVersion } from './support/haproxy.js';
import { requireTool } from './support/requireTool.js';
import { openStream } from './support/sseClient.js';
import { HAPROXY, NETWORK_NAMESPACES, REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { type ComposeNetwork, NETWORK, SERVICE_PORT, withComposeNetwork } from './support/withComposeNetwork.js';
import { makeEvent } from './support/withStack.js';

/**
 * The load balancer as compose runs it: deploy/haproxy.cfg, unchanged, run by haproxy 2.6 (the
 * line of the compose image) in a network namespace laid out like the compose network, in front
 * of real API replicas, a worker and Redis (test/support/withComposeNetwork.ts). Replicas join and
 * leave through the DNS, as with `docker compose up --scale api=N`.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const json = { 'content-type': 'application/json' };
const [A, B, C] = [`${NETWORK}.2`, `${NETWORK}.3`, `${NETWORK}.4`] as const;

const at = (address: string) => `${address}:${SERVICE_PORT}`;

function publish(lb: ComposeNetwork, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${lb.url}/publish`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
}

/** Waits until the access log holds `count` entries that match, and returns them. */
function loggedRequests(
  lb: ComposeNetwork,
  count: number,
  match: (entry: AccessLogEntry) => boolean,
): Promise<AccessLogEntry[]> {
  return waitUntil(
    () => {
      const entries = lb.accessLog().filter(match);
      return entries.length >= count && entries;
    },
    { what: `${count} matching lines in the lb access log` },
  );
}

/** Sends `count` GET /healthz in a row and returns how many each replica served. */
async function spread(lb: ComposeNetwork, count: number): Promise<Record<string, number>> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${lb.url}/healthz`);
    expect(res.status).to.equal(200);
    ids.push(res.headers.get('x-request-id') ?? '');
  }
  const entries = await loggedRequests(lb, count, (e) => ids.includes(e.request_id));
  const served: Record<string, number> = {};
  for (const e of entries) served[e.server] = (served[e.server] ?? 0) + 1;
  return served;
}

async function storedIds(lb: ComposeNetwork, topic: string, count: number): Promise<string[]> {
  const rows = await waitUntil(
    async () => {
      const res = await fetch(`${lb.url}/events?topic=${topic}`);
      const body = (await res.json()) as Array<{ event_id: string }>;
      return res.status === 200 && body.length >= count && body;
    },
    { what: `${count} events of ${topic} in GET /events` },
  );
  return rows.map((r) => r.event_id).sort();
}

/** An error HAProxy made itself: the API's JSON shape, a request id, Retry-After when retrying helps. */
async function expectLbError(res: Response, status: number, code: string, retryAfter: string | null): Promise<void> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(res.headers.get('content-type')).to.equal('application/json');
  expect(res.headers.get('x-request-id')).to.match(UUID);
  expect(res.headers.get('retry-after')).to.equal(retryAfter);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body).to.have.all.keys('error');
  expect(body.error).to.have.all.keys('code', 'message');
  expect(body.error.code).to.equal(code);
  expect(body.error.message).to.be.a('string').that.is.not.empty;
}

/**
 * One request on a connection of its own (the first request on it, as HAProxy sees it): the head,
 * then `body` if given, and the whole reply.
 */
function requestOnNewConnection(
  lb: ComposeNetwork,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(`${lb.url}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        const replyHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) replyHeaders.set(name, String(value));
        resolve(new Response(text, { status: res.statusCode ?? 0, headers: replyHeaders }));
      });
    });
    req.on('error', reject);
    if (body === undefined) req.flushHeaders();
    else req.end(body);
  });
}

function publishOnNewConnection(lb: ComposeNetwork, body: unknown): Promise<Response> {
  return requestOnNewConnection(lb, 'POST', '/publish', json, JSON.stringify(body));
}

describe('the haproxy the load-balancer tests run', () => {
  before(requireTool(HAPROXY));

  it('runs the 2.6 line of HAProxy, the line of the compose image', () => {
    const image = readCompose().services.lb?.image ?? '';
    const [, tag = ''] = /^haproxy:(\d+\.\d+)[.-]/.exec(image) ?? [];
    expect(tag, `lb image ${image}`).to.equal('2.6');
    expect(haproxyMajorVersion(HAPROXY.find(process.env) ?? 'haproxy')).to.equal(tag);
  });
});

describe('the load balancer in front of API replicas (deploy/haproxy.cfg, as compose runs it)', function () {
  // Each test starts its own topology: seconds on an idle machine, much more on a loaded one.
  this.timeout(150_000);

  before(requireTool(REDIS_SERVER, HAPROXY, NETWORK_NAMESPACES));

  it('takes the replicas in turn', () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      expect(await spread(lb, 8)).to.deep.equal({ [at(A)]: 4, [at(B)]: 4 });
    }));

  it('lets a replica that appears in the DNS join, and one that leaves it go, without a reload', () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      const pid = lb.lb.pid;
      await lb.startApi(C);
      lb.resolveApiTo([A, B, C]);
      await lb.waitForRotation([C]);
      expect(await spread(lb, 9)).to.deep.equal({ [at(A)]: 3, [at(B)]: 3, [at(C)]: 3 });

      lb.resolveApiTo([A, C]);
      await waitUntil(async () => !(at(B) in (await spread(lb, 4))), { what: `${B} to leave the rotation` });
      expect(await spread(lb, 6)).to.deep.equal({ [at(A)]: 3, [at(C)]: 3 });
      expect(lb.lb.pid).to.equal(pid);
      expect(lb.lb.running).to.equal(true);
    }));

  it("passes the client's X-Request-Id to the replica and back, and makes one when there is none", () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      const given = await fetch(`${lb.url}/healthz`, { headers: { 'x-request-id': 'client-id.42' } });
      expect(given.headers.get('x-request-id')).to.equal('client-id.42');
      await loggedRequests(lb, 1, (e) => e.request_id === 'client-id.42' && e.status === 200);

      // The lb makes a UUID; the API returns the id it was given (it would make a different one if
      // it got none), so the reply's id is the one the lb logged.
      for (const headers of [{}, { 'x-request-id': 'not acceptable!' }] as Array<Record<string, string>>) {
        const made = await fetch(`${lb.url}/healthz`, { headers });
        const id = made.headers.get('x-request-id') ?? '';
        expect(id).to.match(UUID);
        const [entry] = await loggedRequests(lb, 1, (e) => e.request_id === id);
        expect(entry).to.include({ status: 200, method: 'GET', uri: '/healthz' });
        expect([at(A), at(B)]).to.include(entry?.server);
      }

      // A long URI is cut in the log, which stays one line of JSON per request.
      const long = await fetch(`${lb.url}/healthz?pad=${'"x'.repeat(2000)}`);
      const [cut] = await loggedRequests(lb, 1, (e) => e.request_id === long.headers.get('x-request-id'));
      expect(cut?.uri).to.match(/^\/healthz\?pad=(%22x)+/);
      expect(cut?.uri.length).to.be.within(1000, 1024);
    }));

  it('carries a published event end to end: POST /publish, then GET /events, both through the lb', () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      const topic = `lb-${randomUUID().slice(0, 8)}`;
      const event = makeEvent({ topic });
      const res = await publish(lb, event);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ accepted: 1 });
      expect(await storedIds(lb, topic, 1)).to.deep.equal([event.event_id]);
    }));

  it('keeps an event stream open past its 10 s server timeout, passing each event on at once, and logs no access_token', () =>
    withComposeNetwork({ apis: [A] }, async (lb) => {
      const client = await openStream(lb.url, '?access_token=secret-token-0123456789&after=0');
      // The first heartbeat comes after 15 s of silence, past the `timeout server` of other requests.
      await client.waitFor(() => client.comments.includes('heartbeat') || client.done, 'a heartbeat', 40_000);
      expect(client.done, 'the stream was cut').to.equal(false);
      const event = makeEvent();
      const started = Date.now();
      expect((await publish(lb, event)).status).to.equal(200);
      await client.waitFor(() => client.events.some((e) => e.event_id === event.event_id), 'the event', 10_000);
      expect(Date.now() - started).to.be.below(2000);
      await client.close();
      // A stream is logged when HAProxy sees its end, a heartbeat or two after the client went:
      // a request that ends at once shows the redaction.
      // So does a token sent under an escaped or other-case name, which the API refuses.
      const other = await fetch(
        `${lb.url}/healthz?after=0&access_token=secret-token-0123456789&x=1&access%5Ftoken=secret-token-1&ACCESS_TOKEN=secret-token-2`,
      );
      const [entry] = await loggedRequests(lb, 1, (e) => e.request_id === other.headers.get('x-request-id'));
      expect(entry?.uri).to.equal(
        '/healthz?after=0&access_token=redacted&x=1&access%5Ftoken=redacted&ACCESS_TOKEN=redacted',
      );
      expect(lb.lb.lines.join('\n')).not.to.include('secret-token');
    }));

  it('ends a stream cleanly when its replica stops, and the client resumes through the lb on another', () =>
    withComposeNetwork({ apis: [A] }, async (lb) => {
      const client = await openStream(lb.url);
      const first = makeEvent();
      expect((await publish(lb, first)).status).to.equal(200);
      await client.waitForEvents(1);
      // B joins; then A, which holds the stream, stops gracefully and leaves the DNS.
      await lb.startApi(B);
      lb.resolveApiTo([A, B]);
      await lb.waitForRotation([B]);
      lb.resolveApiTo([B]);
      await lb.apis.get(A)?.stop();
      await client.ended;
      const final = client.messages.at(-1);
      expect(final?.event).to.equal('error');
      expect(JSON.parse(final?.data ?? '{}').error.code).to.equal('shutting_down');

      // Stored while the client is away, then while it is back: it gets both, after the first.
      const away = makeEvent();
      expect((await publish(lb, away)).status).to.equal(200);
      const resumed = await openStream(lb.url, '', { 'Last-Event-ID': client.lastEventId as string });
      const back = makeEvent();
      expect((await publish(lb, back)).status).to.equal(200);
      await resumed.waitForEvents(2);
      expect([...client.events, ...resumed.events].map((e) => e.event_id)).to.deep.equal(
        [first, away, back].map((e) => e.event_id),
      );
      await resumed.close();
    }));

  it('passes a body over 5 MiB to the API, whose JSON 413 every client reads, and a 4.5 MiB one whole', () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      // Several times: a refusal that cut the connection would reset most of them.
      for (let i = 0; i < 3; i++) {
        const tooBig = await fetch(`${lb.url}/publish`, {
          method: 'POST',
          headers: json,
          body: Buffer.alloc(5 * 1024 * 1024 + 1, ' '),
        });
        expect(tooBig.status).to.equal(413);
        expect(((await tooBig.json()) as { error: { code: string } }).error.code).to.equal('payload_too_large');
        const [entry] = await loggedRequests(lb, 1, (e) => e.request_id === tooBig.headers.get('x-request-id'));
        expect([at(A), at(B)]).to.include(entry?.server);
      }

      const large = makeEvent({ payload: { blob: 'x'.repeat(4.5 * 1024 * 1024) } });
      const res = await publish(lb, large);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ accepted: 1 });
    }));

  it('refuses itself, with a JSON 413, a body announced over its 64 MiB ceiling', () =>
    withComposeNetwork({ apis: [A] }, async (lb) => {
      // Only the head is sent: the reply comes before any body (no reset to race with).
      const res = await requestOnNewConnection(lb, 'POST', '/publish', {
        ...json,
        'content-length': String(64 * 1024 * 1024 + 1),
      });
      const id = res.headers.get('x-request-id');
      await expectLbError(res, 413, 'payload_too_large', null);
      const [entry] = await loggedRequests(lb, 1, (e) => e.request_id === id);
      expect(entry).to.include({ status: 413, server: '-:-' });
    }));

  it('keeps serving GET and POST when a replica dies, passing refused connections to another', () =>
    withComposeNetwork({ apis: [A, B] }, async (lb) => {
      const topic = `lb-${randomUUID().slice(0, 8)}`;
      const events = Array.from({ length: 4 }, () => makeEvent({ topic }));
      await (lb.apis.get(A) as ManagedChild).kill();

      // Sent together the moment A is dead. HAProxy may already have marked A down (the close of
      // its idle connections to A counts as an error: observe layer4), and then every POST goes
      // to B at once; or the round-robin sends one or two to A, whose connection is refused, so
      // they never reached it, and each is passed on to B, once. Either way: all served by B,
      // none sent twice.
      const replies = await Promise.all(events.map((event) => publish(lb, event)));
      const ids: string[] = [];
      for (const res of replies) {
        expect(res.status, await res.clone().text()).to.equal(200);
        expect(await res.json()).to.deep.equal({ accepted: 1 });
        ids.push(res.headers.get('x-request-id') ?? '');
      }
      for (let i = 0; i < 4; i++) expect((await fetch(`${lb.url}/healthz`)).status).to.equal(200);

      const posts = await loggedRequests(lb, 4, (e) => ids.includes(e.request_id));
      expect(posts.every((e) => e.status === 200 && e.server === at(B))).to.equal(true);
      const retried = posts.filter((e) => e.retries !== '0').map((e) => e.retries);
      expect(retried.length, 'POSTs passed on from the dead replica').to.be.at.most(2);
      expect(retried.every((r) => r === '+1')).to.equal(true);
      expect(await storedIds(lb, topic, events.length)).to.deep.equal(events.map((e) => e.event_id).sort());
    }));

  it('answers 502 bad_gateway when a replica drops a POST it received, and never re-sends it', () =>
    withComposeNetwork({ apis: [A] }, async (lb) => {
      const dropper = await lb.startFakeReplica(C, 'drop');
      lb.resolveApiTo([A, C]);
      await lb.waitForRotation([C]);
      const received = () => dropper.lines.filter((l) => l.startsWith('request POST /publish'));

      // Both replicas are in rotation, but the order of the round-robin right after a server joins
      // is HAProxy's business (a newly-up server may be picked twice running), so POSTs go out one
      // by one, each on a new connection, until both replicas have had one. Every POST that reached
      // the dropping replica gets its 502 although a live replica is there: it was not passed on.
      const statuses: number[] = [];
      const dropped: Response[] = [];
      while (!(statuses.includes(200) && statuses.includes(502))) {
        expect(statuses.length, `POST statuses so far: ${statuses.join(', ')}`).to.be.below(10);
        const res = await publishOnNewConnection(lb, makeEvent());
        statuses.push(res.status);
        if (res.status === 502) dropped.push(res);
        else expect(res.status, await res.clone().text()).to.equal(200);
      }
      const droppedIds = dropped.map((res) => res.headers.get('x-request-id') ?? '');
      for (const res of dropped) await expectLbError(res, 502, 'bad_gateway', '1');
      expect(received()).to.deep.equal(droppedIds.map((id) => `request POST /publish ${id}`));
      const entries = await loggedRequests(lb, dropped.length, (e) => droppedIds.includes(e.request_id));
      for (const entry of entries) expect(entry).to.include({ status: 502, server: at(C), retries: '0' });

      // Not the first request on its keep-alive connection: HAProxy closes the connection without
      // a reply instead (the client's cue to retry), and still does not pass the POST on.
      const before = received().length;
      const closed: string[] = [];
      for (let i = 0; closed.length === 0; i++) {
        expect(i, 'kept-alive POSTs sent without one reaching the dropping replica').to.be.below(10);
        const requestId = `kept-alive-${i}`;
        const outcome = await publish(lb, makeEvent(), { 'x-request-id': requestId }).then(
          async (res) => `${res.status} ${await res.text()}`,
          (thrown: { cause?: { code?: string } }) => `${requestId} ${thrown.cause?.code}`,
        );
        if (outcome.startsWith('200 ')) continue;
        expect(outcome).to.match(/^kept-alive-\d+ UND_ERR_SOCKET$/);
        closed.push(requestId);
      }
      expect(received().slice(before)).to.deep.equal(closed.map((id) => `request POST /publish ${id}`));
    }));

  it('answers 504 gateway_timeout when a replica does not answer in time, and never re-sends the POST', async () => {
    await withComposeNetwork({ apis: [] }, async (lb) => {
      const stuck = await lb.startFakeReplica(C, 'hang');
      lb.resolveApiTo([C]);
      await lb.waitForRotation([C]);

      const started = Date.now();
      const res = await publish(lb, makeEvent());
      const id = res.headers.get('x-request-id');
      await expectLbError(res, 504, 'gateway_timeout', '1');
      expect(Date.now() - started).to.be.within(9_000, 20_000);
      expect(stuck.lines.filter((l) => l.startsWith('request POST /publish'))).to.deep.equal([
        `request POST /publish ${id}`,
      ]);
    });
  });

  it('answers 503 no_replica_available while no replica runs, serves one as soon as it appears, and stops when it leaves', () =>
    withComposeNetwork({ apis: [] }, async (lb) => {
      for (const path of ['/healthz', '/stats']) {
        await expectLbError(await fetch(`${lb.url}${path}`), 503, 'no_replica_available', '1');
      }
      await expectLbError(await publish(lb, makeEvent()), 503, 'no_replica_available', '1');

      await lb.startApi(A);
      lb.resolveApiTo([A]);
      await lb.waitForRotation([A]);
      expect((await publish(lb, makeEvent())).status).to.equal(200);

      // `api` unknown to the DNS again (every replica stopped, for Docker): the lb lets the last
      // address go within seconds (hold nx), even though a process still answers there.
      lb.resolveApiTo([]);
      const gone = await waitUntil(
        async () => {
          const res = await fetch(`${lb.url}/healthz`);
          return res.status === 503 && res;
        },
        { what: 'the lb to drop the replica that left the DNS' },
      );
      await expectLbError(gone, 503, 'no_replica_available', '1');
      expect(lb.apis.get(A)?.running).to.equal(true);
    }));
});
