import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { REFUSED_BODY_LINGER_MS } from '@aggregator/api';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';

const API_TOKEN = 'publish-token-0123456789';
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2500;

/** A raw connection to the API: what it received, and when the server closed it. */
interface RawClient {
  socket: Socket;
  received: () => string;
  /** Milliseconds from connect until the server closed the connection. */
  closedAfter: Promise<number>;
}

async function rawClient(apiUrl: string): Promise<RawClient> {
  const { hostname, port } = new URL(apiUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const start = Date.now();
  let data = '';
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closedAfter = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - start)));
  return { socket, received: () => data, closedAfter };
}

/** Writes `chunk` every `everyMs` until the socket closes or `maxMs` passed; never waits on a fixed sleep alone. */
function trickle(socket: Socket, chunk: string, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(chunk);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

/** Resolves with the close time, or fails once `limitMs` pass with the connection still open. */
async function closedWithin(client: RawClient, limitMs: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still open after ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([client.closedAfter, limit]);
  } finally {
    clearTimeout(timer);
    client.socket.destroy();
  }
}

describe('HTTP server limits (a real API process)', () => {
  before(requireTool(REDIS_SERVER));

  const env = {
    API_TOKEN,
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  };

  it('cuts slow headers, a slow body and a refused trickled body within the configured times', async function () {
    this.timeout(60_000);
    await withProcessStack({ workers: 0, env }, async (stack) => {
      // Headers, a line every 200 ms: never complete. Node's defaults cut them after 60–90 s.
      const slowHeaders = await rawClient(stack.apiUrl);
      slowHeaders.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      trickle(slowHeaders.socket, 'X-Slow: 1\r\n', 200);
      const headersCut = await closedWithin(slowHeaders, HEADERS_TIMEOUT_MS + 2000, 'slow headers');
      expect(headersCut).to.be.within(HEADERS_TIMEOUT_MS * 0.9, HEADERS_TIMEOUT_MS + 2000);
      expect(slowHeaders.received())
        .to.match(/^HTTP\/1\.1 408 /)
        .and.include('"request_timeout"');

      // A body of 1,000 bytes at a byte every 100 ms: it would take 100 s. Node's default: 300 s.
      const slowBody = await rawClient(stack.apiUrl);
      slowBody.socket.write(
        `POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_TOKEN}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[',
      );
      trickle(slowBody.socket, ' ', 100);
      const bodyCut = await closedWithin(slowBody, REQUEST_TIMEOUT_MS + 2000, 'slow body');
      expect(bodyCut).to.be.within(REQUEST_TIMEOUT_MS * 0.9, REQUEST_TIMEOUT_MS + 2000);
      expect(slowBody.received()).to.match(/^HTTP\/1\.1 408 /);

      // Refused at once (no token): the reply says Connection: close and the server stops reading,
      // however long the client would trickle the 1 MB it announced.
      const refused = await rawClient(stack.apiUrl);
      refused.socket.write(
        'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[',
      );
      trickle(refused.socket, ' ', 100);
      await waitUntil(() => /\r\n\r\n/.test(refused.received()), { what: 'the 401 head' });
      expect(refused.received())
        .to.match(/^HTTP\/1\.1 401 /)
        .and.match(/\r\nConnection: close\r\n/i);
      // Closed once the client had REFUSED_BODY_LINGER_MS to send the rest (2 s), not at its pace (1,000 s).
      expect(await closedWithin(refused, REFUSED_BODY_LINGER_MS + 1500, 'refused publish')).to.be.below(
        REFUSED_BODY_LINGER_MS + 1500,
      );
    });
  });

  it('still lets a client that sends a too-large body at full speed read its 413', async function () {
    this.timeout(60_000);
    await withProcessStack({ workers: 0, env }, async (stack) => {
      // Several times: a close that reset the connection under the client would fail most of them.
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${stack.apiUrl}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
          body: Buffer.alloc(5 * 1024 * 1024 + 1, ' '),
        });
        expect(res.status).to.equal(413);
        expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('payload_too_large');
      }
    });
  });

  it('closes a connection past MAX_CONNECTIONS at once, and takes new ones when others go', async function () {
    this.timeout(60_000);
    await withProcessStack({ workers: 0, env: { MAX_CONNECTIONS: '8' } }, async (stack) => {
      const held: RawClient[] = [];
      for (let i = 0; i < 8; i++) held.push(await rawClient(stack.apiUrl));
      // Each held connection is a keep-alive one that has served a request: the API counts it.
      for (const client of held) client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitUntil(() => held.every((c) => c.received().includes('"ok"')), { what: 'the 8 replies' });

      const extra = await rawClient(stack.apiUrl);
      extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await closedWithin(extra, 2000, 'the connection past the cap');
      expect(extra.received()).to.equal('');

      for (const client of held.splice(0, 2)) client.socket.destroy();
      await waitUntil(async () => (await fetch(`${stack.apiUrl}/healthz`).catch(() => undefined))?.status === 200, {
        what: 'a new connection served once two went',
      });
      for (const client of held) client.socket.destroy();
    });
  });
});
