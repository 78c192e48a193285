import { once } from 'node:events';
import { connect } from 'node:net';
import { ERROR_CODES } from '@aggregator/api';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';

/**
 * Requests Node's HTTP parser rejects before Koa sees them, and methods Node knows but the API
 * does not route, sent as raw bytes to the real API process: every reply has the API's error
 * shape, and none of them is logged as a failure of ours.
 */

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `request` as is and reads until the server closes the connection. */
async function sendRaw(url: string, request: string): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.end(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  const raw = Buffer.concat(chunks).toString('utf8');
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
  const headers = Object.fromEntries(
    headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return { status, headers, body };
}

function expectErrorShape(reply: RawReply, status: number, code: string): void {
  const context = JSON.stringify(reply);
  expect(reply.status, context).to.equal(status);
  expect(reply.headers['content-type'], context).to.match(/^application\/json/);
  const parsed = JSON.parse(reply.body) as { error: { code: string; message: string } };
  expect(parsed, context).to.have.all.keys('error');
  expect(parsed.error, context).to.have.all.keys('code', 'message');
  expect(parsed.error.code, context).to.equal(code);
  expect(ERROR_CODES as readonly string[]).to.include(code);
  expect(parsed.error.message, context).to.be.a('string').and.not.equal('');
}

describe('requests the API does not serve, sent as raw HTTP', function () {
  this.timeout(60_000);

  it('answers every one in the error shape and logs none of them as an error', () =>
    withProcessStack({ workers: 0, env: { LOG_LEVEL: 'debug' } }, async (stack) => {
      // A method Node's parser does not know: rejected before Koa.
      expectErrorShape(await sendRaw(stack.apiUrl, 'FOO / HTTP/1.1\r\nHost: api\r\n\r\n'), 501, 'method_not_allowed');
      // Methods Node knows and the API does not route: Koa's router refuses them.
      for (const path of ['/', '/publish']) {
        expectErrorShape(
          await sendRaw(stack.apiUrl, `PROPFIND ${path} HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n`),
          501,
          'method_not_allowed',
        );
      }
      // A method the API knows, on a route without it: the reply names the methods the route has.
      const notAllowed = await sendRaw(
        stack.apiUrl,
        'DELETE /publish HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n',
      );
      expectErrorShape(notAllowed, 405, 'method_not_allowed');
      expect(notAllowed.headers.allow, JSON.stringify(notAllowed)).to.equal('POST');
      // Not HTTP at all, and headers over Node's 16 KiB limit.
      expectErrorShape(
        await sendRaw(stack.apiUrl, 'GET / HTTP/1.1\r\nBad Header: yes\r\n\r\n'),
        400,
        'malformed_request',
      );
      expectErrorShape(
        await sendRaw(stack.apiUrl, `GET / HTTP/1.1\r\nHost: api\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`),
        431,
        'malformed_request',
      );

      // The process still serves.
      expect((await fetch(`${stack.apiUrl}/healthz`)).status).to.equal(200);
      await stack.apis[0]?.stop();
      const lines = stack.apis[0]?.lines ?? [];
      const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
      // Each refusal was seen (at debug level), and nothing reached warn, error or a stack trace.
      expect(logged.filter((l) => l.msg === 'request rejected by the HTTP parser')).to.have.length(3);
      expect(logged.filter((l) => l.msg === 'request rejected')).to.have.length(3);
      expect(logged.filter((l) => l.level >= 40)).to.deep.equal([]);
      expect(lines.filter((l) => l.includes('"stack"') || /\n\s+at /.test(l))).to.deep.equal([]);
    }));
});
