/**
 * A replica that fails in a chosen way, for the load balancer's error paths; run inside a test
 * network namespace:
 *
 *   node --import tsx fakeReplica.ts <host> <port> drop|hang
 *
 * It passes the load balancer's health check (GET /healthz answers 200), and takes every other
 * request whole, prints `request <METHOD> <url> <X-Request-Id>`, then
 *   drop  closes the connection without a reply (a replica that crashed while answering);
 *   hang  never answers (a replica that is stuck).
 * Prints `listening` once it listens; SIGTERM stops it.
 */
import { createServer, type Server } from 'node:http';

const [host, port, mode] = process.argv.slice(2);
if (!host || !port || (mode !== 'drop' && mode !== 'hang')) {
  process.stderr.write('usage: fakeReplica.ts <host> <port> drop|hang\n');
  process.exit(2);
}

const server: Server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
    return;
  }
  req.resume();
  req.on('end', () => {
    process.stdout.write(`request ${req.method} ${req.url} ${req.headers['x-request-id']}\n`);
    if (mode === 'drop') req.socket.destroy();
  });
});

server.listen(Number(port), host, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
