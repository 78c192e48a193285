import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { runHttpLoad } from '@aggregator/load';
import { freePort } from '@aggregator/stack';
import { expect } from 'chai';

async function withServer<T>(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
  fn: (url: string, server: Server) => Promise<T>,
): Promise<T> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, server);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('benchmark load generator', () => {
  it('sends every request once with its body, over keep-alive connections, and counts non-2xx', () => {
    const seen: string[] = [];
    const sockets = new Set<unknown>();
    return withServer(
      (req, body, res) => {
        sockets.add(req.socket);
        seen.push(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
        const n = Number(JSON.parse(body).n);
        res.writeHead(n % 10 === 0 ? 429 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: 1, echo: 'é'.repeat(n) })); // multi-byte, growing replies
      },
      async (url) => {
        const result = await runHttpLoad({
          url,
          method: 'POST',
          request: (i) => ({ path: '/publish', body: JSON.stringify({ n: i, text: 'ü' }) }),
          requests: 200,
          connections: 4,
        });
        expect(result).to.include({ requests: 200, non2xx: 20, errors: 0, timeouts: 0 });
        expect(seen).to.have.length(200);
        expect(new Set(seen).size).to.equal(200);
        expect(seen[0]).to.match(/^POST \/publish application\/json \{"n":\d+,"text":"ü"\}$/);
        expect(sockets.size).to.equal(4);
        expect(result.latencyP99).to.be.at.least(result.latencyP50);
      },
    );
  });

  it('keeps to the requested rate', () =>
    withServer(
      (_req, _body, res) => res.end('{}'),
      async (url) => {
        const result = await runHttpLoad({
          url,
          method: 'GET',
          request: () => ({ path: '/x' }),
          requests: 50,
          connections: 5,
          rate: 100,
        });
        expect(result.requests).to.equal(50);
        // 50 requests at 100/s cannot finish before 0.49 s (the first is due at once).
        expect(result.durationSeconds).to.be.at.least(0.48);
      },
    ));

  it('counts a connection the server drops, and goes on with a new one', () => {
    let calls = 0;
    return withServer(
      (req, _body, res) => {
        calls++;
        if (calls === 3) req.socket.destroy();
        else res.end('{}');
      },
      async (url) => {
        const result = await runHttpLoad({
          url,
          method: 'GET',
          request: () => ({ path: '/' }),
          requests: 10,
          connections: 1,
        });
        expect(result).to.include({ requests: 10, errors: 1, non2xx: 0 });
      },
    );
  });

  it('counts every request as an error when nothing listens', async () => {
    const port = await freePort();
    const result = await runHttpLoad({
      url: `http://127.0.0.1:${port}`,
      method: 'GET',
      request: () => ({ path: '/' }),
      requests: 5,
      connections: 2,
    });
    expect(result).to.include({ requests: 5, errors: 5 });
  });

  it('follows Connection: close without counting an error, and fails a reply it cannot frame instead of hanging', async () => {
    // A raw server: each request gets the next canned reply.
    const replies = [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n\r\n{"until":"close"}',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    ];
    let next = 0;
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk: Buffer) => {
        if (!chunk.includes('\r\n\r\n')) return;
        const reply = replies[next++] as string;
        if (reply.includes('Connection: close')) socket.end(reply);
        else socket.write(reply);
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const result = await runHttpLoad({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        method: 'GET',
        request: () => ({ path: '/' }),
        requests: 4,
        connections: 1,
      });
      // 1: ok, then closed by the server; 2: bad chunk size; 3: no framing; 4: ok.
      expect(result).to.include({ requests: 4, errors: 2, non2xx: 0 });
      expect(sockets.size).to.equal(4); // a new connection after the close and after each failure
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('refuses options that could never finish', () => {
    const base = { url: 'http://127.0.0.1:1', method: 'GET' as const, request: () => ({ path: '/' }) };
    expect(() => runHttpLoad({ ...base, connections: 0, requests: 1 })).to.throw(/connections/);
    expect(() => runHttpLoad({ ...base, connections: 1 })).to.throw(/requests/);
  });
});
