import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Koa from 'koa';

/**
 * A publish endpoint that does nothing: it reads the body, parses the JSON and answers
 * `{"accepted":N}`, with no validation, queue or store. The bench's ceiling mode drives it with the
 * same generator as the single-event mode, to show what HTTP alone costs on this machine.
 *
 * `node noopServer.js http|koa`: plain node:http, or one Koa middleware (the API's framework);
 * prints `listening <port>` once it listens on a free port of 127.0.0.1.
 */
function accepted(body: unknown): string {
  return JSON.stringify({ accepted: Array.isArray(body) ? body.length : 1 });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function plain(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = accepted(JSON.parse(await readBody(req)));
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(reply) });
  res.end(reply);
}

function koa() {
  const app = new Koa();
  app.use(async (ctx) => {
    ctx.type = 'json';
    ctx.body = accepted(JSON.parse(await readBody(ctx.req)));
  });
  return app.callback();
}

const kind = process.argv[2];
if (kind !== 'http' && kind !== 'koa') {
  process.stderr.write('usage: node noopServer.js http|koa\n');
  process.exit(2);
}
const server = createServer(
  kind === 'koa'
    ? koa()
    : (req, res) => {
        plain(req, res).catch(() => {
          res.statusCode = 400;
          res.end();
        });
      },
);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const address = server.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
process.on('SIGTERM', () => process.exit(0));
