import { connect } from 'node:net';
import type { Event } from '@aggregator/common';
import { expect } from 'chai';
import type { ProcessStack } from './support/processStack.js';
import { openStream, SseClient, type StreamedEvent } from './support/sseClient.js';
import { STORES, withProcessStackOn } from './support/stores.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/** Every stored event matching `filter` (`topic=…`, `topic_pattern=…`, or all), paged through `GET /events`. */
async function listAll(apiUrl: string, filter = ''): Promise<StreamedEvent[]> {
  const all: StreamedEvent[] = [];
  for (;;) {
    const query = new URLSearchParams(filter);
    query.set('after', String(all.at(-1)?.seq ?? 0));
    query.set('limit', '1000');
    const page = (await (await fetch(`${apiUrl}/events?${query}`)).json()) as StreamedEvent[];
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

/** The events a stream received, checked: strictly increasing seq, ids equal to the messages' `id:`. */
function inOrder(client: SseClient): StreamedEvent[] {
  const events = client.events;
  const ids = client.messages.filter((m) => m.event === 'message').map((m) => Number(m.id));
  expect(ids).to.deep.equal(events.map((e) => e.seq));
  for (let i = 1; i < events.length; i++) expect(events[i]?.seq).to.be.greaterThan(events[i - 1]?.seq as number);
  return events;
}

async function publishAll(stack: ProcessStack, batches: Event[][], url?: string): Promise<void> {
  const statuses = await Promise.all(batches.map(async (b) => (await stack.publish(b, url)).status));
  expect(new Set(statuses)).to.deep.equal(new Set([200]));
}

const batchesOf = (count: number, size: number, topics: number) =>
  Array.from({ length: count }, () => Array.from({ length: size }, (_, i) => makeEvent({ topic: `s.${i % topics}` })));

async function metric(apiUrl: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const match = text.split('\n').find((l) => line.test(l));
  return match ? Number(match.split(' ').at(-1)) : 0;
}

for (const store of STORES) {
  describe(`event stream: GET /events/stream (processes, ${store.name})`, function () {
    this.timeout(90_000);
    before(function () {
      store.require(this);
    });

    it(`delivers every stored and new event once, in seq order, with writers on ${store.writers} workers`, () =>
      withProcessStackOn(store, { workers: store.writers }, async (stack) => {
        // Stored before the streams open: they catch up from the store, then join the hub.
        const before = batchesOf(10, 20, 3);
        await publishAll(stack, before);
        await stack.settle(200);
        const all = await openStream(stack.apiUrl);
        const one = await openStream(stack.apiUrl, '?topic=s.1');
        const late = await openStream(stack.apiUrl, '?after=150');
        // Concurrent batches, with duplicates of stored events, while the streams are open, and
        // more streams joining while they are being stored (their hand-over from the store to the hub).
        const during = batchesOf(30, 10, 3);
        const dupes = before.slice(0, 3);
        const publishing = publishAll(stack, [...during, ...dupes]);
        const joiners: SseClient[] = [];
        const filters = ['', 'topic=s.1', 'topic_pattern=*.1'];
        for (let i = 0; i < 6; i++) joiners.push(await openStream(stack.apiUrl, `?${filters[i % 3]}`));
        await publishing;
        await stack.settle(560);
        const stored = await listAll(stack.apiUrl);
        expect(stored).to.have.length(500);
        await all.waitForEvents(500);
        await one.waitForEvents(stored.filter((e) => e.topic === 's.1').length);
        expect(stored.filter((e) => e.topic === 's.1').length).to.be.below(200);
        await late.waitForEvents(350);
        // A moment for a stray repeat to show up: a marker event published last must come after everything.
        await publishAll(stack, [[makeEvent({ topic: 's.1', event_id: 'marker' })]]);
        await all.waitFor(() => all.events.some((e) => e.event_id === 'marker'), 'the marker');
        await one.waitFor(() => one.events.some((e) => e.event_id === 'marker'), 'the marker');
        const everything = await listAll(stack.apiUrl);
        expect(inOrder(all).map((e) => e.seq)).to.deep.equal(everything.map((e) => e.seq));
        expect(all.events).to.deep.equal(everything);
        expect(inOrder(one)).to.deep.equal(await listAll(stack.apiUrl, 'topic=s.1'));
        await late.waitFor(() => late.events.length === 351, 'the marker');
        expect(inOrder(late)).to.deep.equal(everything.filter((e) => e.seq > 150));
        for (const [i, joiner] of joiners.entries()) {
          await joiner.waitFor(() => joiner.events.some((e) => e.event_id === 'marker'), 'the marker');
          expect(inOrder(joiner)).to.deep.equal(await listAll(stack.apiUrl, filters[i % 3]));
        }
        await Promise.all([all, one, late, ...joiners].map((c) => c.close()));
      }));

    it('resumes after a reconnect with Last-Event-ID, with the events stored while away, once each', () =>
      withProcessStackOn(store, { workers: store.writers }, async (stack) => {
        const first = await openStream(stack.apiUrl, '?topic=s.0');
        await publishAll(stack, batchesOf(5, 20, 2));
        await first.waitForEvents(10);
        await first.close();
        const lastId = first.lastEventId as string;
        // Stored while the client is away, and more while it is back.
        await publishAll(stack, batchesOf(5, 20, 2));
        const second = await openStream(stack.apiUrl, '?topic=s.0&after=0', { 'Last-Event-ID': lastId });
        await publishAll(stack, batchesOf(5, 20, 2));
        await stack.settle(300);
        const expected = await listAll(stack.apiUrl, 'topic=s.0');
        expect(expected).to.have.length(150);
        await second.waitForEvents(expected.filter((e) => e.seq > Number(lastId)).length);
        const received = [...inOrder(first), ...inOrder(second)];
        expect(second.events[0]?.seq).to.be.greaterThan(Number(lastId));
        expect(received).to.deep.equal(expected);
        await second.close();
      }));

    it('lets a client resume on another replica when the one under its stream is killed', () =>
      withProcessStackOn(store, { workers: store.writers, apis: 2, distinctApiPorts: true }, async (stack) => {
        const [urlA, urlB] = stack.apiUrls as [string, string];
        const client = await openStream(urlA);
        await publishAll(stack, batchesOf(5, 20, 3), urlB);
        await client.waitForEvents(30);
        await stack.apis[0]?.kill();
        await client.ended;
        // Stored while no stream is open, through the surviving replica.
        await publishAll(stack, batchesOf(5, 20, 3), urlB);
        const resumed = await openStream(urlB, '', { 'Last-Event-ID': client.lastEventId as string });
        await publishAll(stack, batchesOf(5, 20, 3), urlB);
        await stack.settle(300);
        await resumed.waitForEvents(300 - client.events.length);
        expect([...inOrder(client), ...inOrder(resumed)]).to.deep.equal(await listAll(urlB));
        await resumed.close();
      }));
  });
}

describe('event stream: limits, authentication and shutdown (processes, SQLite)', function () {
  this.timeout(90_000);
  const [sqlite] = STORES;
  before(function () {
    sqlite?.require(this);
  });
  const withStack = (env: Record<string, string>, fn: (stack: ProcessStack) => Promise<void>) =>
    withProcessStackOn(sqlite as (typeof STORES)[number], { env }, fn);

  it('cuts off a consumer that falls behind with a final message saying how to resume', () =>
    withStack({ STREAM_BUFFER_BYTES: '65536' }, async (stack) => {
      const { port } = new URL(stack.apiUrl);
      // A client that sends its request and then reads nothing.
      const socket = connect(Number(port), '127.0.0.1');
      socket.write('GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.pause();
      // And one that reads: the same bursts, larger than the bound, never cut it off.
      const reader = await openStream(stack.apiUrl);
      await waitUntil(async () => (await metric(stack.apiUrl, /^aggregator_streams_open\{/)) === 2, {
        what: 'the streams to open',
      });
      // Far more than the kernel's socket buffers and the stream's bound together.
      const payload = { blob: 'x'.repeat(100_000) };
      let published = 0;
      while ((await metric(stack.apiUrl, /^aggregator_streams_cut_total\{.*reason="fell_behind"/)) === 0) {
        expect(published, 'events published before the cut').to.be.below(2000);
        await publishAll(
          stack,
          batchesOf(1, 20, 1).map((b) => b.map((e) => ({ ...e, payload }))),
        );
        published += 20;
      }
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      await new Promise((resolve) => socket.once('end', resolve));
      socket.destroy();
      const text = Buffer.concat(chunks).toString();
      const final = text.slice(text.lastIndexOf('event: error'));
      expect(final).to.match(/"code":"stream_fell_behind"/);
      const lastId = [...text.matchAll(/^id: (\d+)$/gm)].at(-1)?.[1];
      expect(final).to.include(`Last-Event-ID: ${lastId}`);
      await reader.waitForEvents(published);
      expect(reader.done).to.equal(false);
      expect(reader.messages.filter((m) => m.event === 'error')).to.deep.equal([]);
      await reader.close();
      await waitUntil(async () => (await metric(stack.apiUrl, /^aggregator_streams_open\{/)) === 0, {
        what: 'no stream open',
      });
    }));

  it("delivers new events through the workers' announcements, not the poll", () =>
    withStack({ STREAM_POLL_MS: '60000' }, async (stack) => {
      const client = await openStream(stack.apiUrl);
      for (let i = 1; i <= 5; i++) {
        await publishAll(stack, [[makeEvent()]]);
        await client.waitForEvents(i, 5000);
      }
      await client.close();
    }));

  it('refuses a bad filter or Last-Event-ID with a 400 before the stream opens', () =>
    withStack({}, async (stack) => {
      for (const [query, headers, path] of [
        ['?topic=a&topic_pattern=a.*', {}, 'topic_pattern'],
        ['?topic_pattern=a.>.b', {}, 'topic_pattern'],
        ['?after=-1', {}, 'after'],
        ['', { 'Last-Event-ID': 'x1' }, 'Last-Event-ID'],
      ] as const) {
        const res = await fetch(`${stack.apiUrl}/events/stream${query}`, { headers });
        expect(res.status, query).to.equal(400);
        const body = (await res.json()) as { error: { code: string; details: Array<{ path: string }> } };
        expect(body.error.code).to.equal('invalid_query');
        expect(body.error.details[0]?.path).to.equal(path);
      }
    }));

  it('answers 503 too_many_streams beyond MAX_STREAMS, and admits again when one closes', () =>
    withStack({ MAX_STREAMS: '2' }, async (stack) => {
      const a = await openStream(stack.apiUrl);
      const b = await openStream(stack.apiUrl);
      const refused = await fetch(`${stack.apiUrl}/events/stream`);
      expect(refused.status).to.equal(503);
      expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
      expect(((await refused.json()) as { error: { code: string } }).error.code).to.equal('too_many_streams');
      await a.close();
      const c = await waitUntil(async () => {
        const client = await SseClient.open(`${stack.apiUrl}/events/stream`);
        if (client.response.status === 200) return client;
        await client.close();
        return false;
      });
      await Promise.all([b.close(), c.close()]);
    }));

  it('answers 503 too_many_streams to a client past MAX_STREAMS_PER_CLIENT, while others still get theirs', () =>
    withStack({ MAX_STREAMS_PER_CLIENT: '2' }, async (stack) => {
      // The address the nearest proxy reports is the client (the last X-Forwarded-For entry).
      const as = (address: string) => ({ 'x-forwarded-for': `203.0.113.77, ${address}` });
      const mine = [
        await openStream(stack.apiUrl, '', as('192.0.2.1')),
        await openStream(stack.apiUrl, '', as('192.0.2.1')),
      ];
      const refused = await fetch(`${stack.apiUrl}/events/stream`, { headers: as('192.0.2.1') });
      expect(refused.status).to.equal(503);
      expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).to.equal('too_many_streams');
      expect(body.error.message).to.include('MAX_STREAMS_PER_CLIENT');
      // Another client is not held back by this one; nor is this one once a stream of its own closes.
      const other = await openStream(stack.apiUrl, '', as('192.0.2.2'));
      expect(other.response.status).to.equal(200);
      await mine[0]?.close();
      const again = await waitUntil(async () => {
        const client = await SseClient.open(`${stack.apiUrl}/events/stream`, as('192.0.2.1'));
        if (client.response.status === 200) return client;
        await client.close();
        return false;
      });
      await Promise.all([mine[1]?.close(), other.close(), again.close()]);
    }));

  it('cuts streams and refuses new ones with 503 once slow clients hold the replica-wide buffer budget', () =>
    withStack(
      { STREAM_BUFFER_BYTES: String(64 * 1024 * 1024), STREAMS_BUFFER_BUDGET_BYTES: String(1024 * 1024) },
      async (stack) => {
        const { port } = new URL(stack.apiUrl);
        // Clients that send their request, then read nothing: each far under its own bound (64 MiB).
        const sockets = Array.from({ length: 4 }, () => {
          const socket = connect(Number(port), '127.0.0.1');
          socket.write('GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n');
          socket.pause();
          socket.on('error', () => {});
          return socket;
        });
        try {
          await waitUntil(async () => (await metric(stack.apiUrl, /^aggregator_streams_open\{/)) === 4, {
            what: 'the streams to open',
          });
          const payload = { blob: 'x'.repeat(100_000) };
          let published = 0;
          while ((await metric(stack.apiUrl, /^aggregator_streams_cut_total\{.*reason="buffer_budget"/)) === 0) {
            expect(published, 'events published before the budget was spent').to.be.below(2000);
            await publishAll(
              stack,
              batchesOf(1, 20, 1).map((b) => b.map((e) => ({ ...e, payload }))),
            );
            published += 20;
          }
          // While the cut streams' sockets still hold their backlog, a new stream is refused.
          const refused = await fetch(`${stack.apiUrl}/events/stream`);
          expect(refused.status).to.equal(503);
          expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
          const body = (await refused.json()) as { error: { code: string; message: string } };
          expect(body.error.code).to.equal('too_many_streams');
          expect(body.error.message).to.include('STREAMS_BUFFER_BUDGET_BYTES');
          expect(await metric(stack.apiUrl, /^aggregator_streams_cut_total\{.*reason="fell_behind"/)).to.equal(0);
        } finally {
          for (const socket of sockets) socket.destroy();
        }
        // Once the slow clients are gone the budget is free again.
        const client = await waitUntil(async () => {
          const c = await SseClient.open(`${stack.apiUrl}/events/stream`);
          if (c.response.status === 200) return c;
          await c.close();
          return false;
        });
        await client.close();
      },
    ));

  it('requires READ_TOKEN, as a Bearer header or the access_token parameter, and never logs it', () => {
    const token = 'stream-read-token-0123456789';
    return withStack({ READ_TOKEN: token, LOG_LEVEL: 'debug' }, async (stack) => {
      expect((await fetch(`${stack.apiUrl}/events/stream`)).status).to.equal(401);
      expect((await fetch(`${stack.apiUrl}/events/stream?access_token=wrong-token-0123456789`)).status).to.equal(401);
      // Only under its literal name, the one the load balancer's log redacts.
      expect((await fetch(`${stack.apiUrl}/events/stream?access%5Ftoken=${token}`)).status).to.equal(401);
      expect((await fetch(`${stack.apiUrl}/events/stream?%61ccess_token=${token}`)).status).to.equal(401);
      const byHeader = await openStream(stack.apiUrl, '', { authorization: `Bearer ${token}` });
      const byQuery = await openStream(stack.apiUrl, `?access_token=${token}`);
      await publishAll(stack, [[makeEvent()]]);
      await Promise.all([byHeader.waitForEvents(1), byQuery.waitForEvents(1)]);
      // The token works for the stream only: /events still wants the header.
      expect((await fetch(`${stack.apiUrl}/events?access_token=${token}`)).status).to.equal(401);
      await Promise.all([byHeader.close(), byQuery.close()]);
      expect(stack.apis[0]?.lines.join('\n')).not.to.include(token);
    });
  });

  it('sends a heartbeat comment while nothing is stored', () =>
    withStack({ STREAM_HEARTBEAT_MS: '200' }, async (stack) => {
      const client = await openStream(stack.apiUrl);
      await client.waitFor(() => client.comments.filter((c) => c === 'heartbeat').length >= 2, 'two heartbeats', 5000);
      expect(client.response.headers.get('content-type')).to.match(/^text\/event-stream/);
      expect(client.response.headers.get('cache-control')).to.equal('no-cache');
      expect(client.response.headers.get('x-accel-buffering')).to.equal('no');
      await client.close();
    }));

  it('moves a quiet stream past the events its filter skipped: its heartbeat carries the position as id', () =>
    withStack({ STREAM_HEARTBEAT_MS: '200' }, async (stack) => {
      const quiet = await openStream(stack.apiUrl, '?topic_pattern=quiet.*');
      const noisy = await openStream(stack.apiUrl);
      const others = Array.from({ length: 30 }, (_, i) => makeEvent({ topic: `loud.${i % 3}` }));
      await publishAll(stack, [others]);
      await noisy.waitForEvents(30);
      const lastSeq = noisy.events.at(-1)?.seq as number;
      // No event for the quiet stream, yet its Last-Event-ID reaches the last stored event.
      await quiet.waitFor(() => Number(quiet.lastEventId) >= lastSeq, `the quiet stream's id to reach ${lastSeq}`);
      expect(quiet.events).to.deep.equal([]);
      // It still gets its own events, after that position; a client resuming from it gets only those.
      const own = makeEvent({ topic: 'quiet.one' });
      await publishAll(stack, [[own]]);
      await quiet.waitForEvents(1);
      expect(quiet.events.map((e) => e.event_id)).to.deep.equal([own.event_id]);
      expect(quiet.events[0]?.seq).to.be.greaterThan(lastSeq);
      const resumed = await openStream(stack.apiUrl, '?topic_pattern=quiet.*', { 'Last-Event-ID': String(lastSeq) });
      await resumed.waitForEvents(1);
      expect(resumed.events.map((e) => e.event_id)).to.deep.equal([own.event_id]);
      await Promise.all([quiet.close(), noisy.close(), resumed.close()]);

      // Open streams are no request latency: only the stream refused at once is in the histogram.
      expect((await fetch(`${stack.apiUrl}/events/stream?topic_pattern=a*`)).status).to.equal(400);
      await waitUntil(async () => (await metric(stack.apiUrl, /^aggregator_streams_open\{/)) === 0, {
        what: 'the streams to close',
      });
      const durations = (await (await fetch(`${stack.apiUrl}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('aggregator_http_request_duration_seconds_count') && l.includes('/events/stream'));
      expect(durations).to.have.length(1);
      expect(durations[0]).to.include('status="400"');
    }));

  it('ends open streams with a final shutting_down message on SIGTERM, and exits', () =>
    withStack({}, async (stack) => {
      const client = await openStream(stack.apiUrl);
      await publishAll(stack, [[makeEvent()]]);
      await client.waitForEvents(1);
      const api = stack.apis[0];
      api?.process.kill('SIGTERM');
      await client.ended;
      const final = client.messages.at(-1);
      expect(final?.event).to.equal('error');
      expect(JSON.parse(final?.data ?? '{}')).to.deep.include({
        error: {
          code: 'shutting_down',
          message: 'this replica is shutting down; reconnect with Last-Event-ID to resume elsewhere',
          details: { last_event_id: client.events[0]?.seq },
        },
      });
      expect((await api?.exited)?.code).to.equal(0);
    }));
});
