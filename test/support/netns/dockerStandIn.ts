/**
 * What Docker provides to a compose network, for a test network namespace; run inside it:
 *
 *   node --import tsx dockerStandIn.ts <records.json> <published.sock> <host:port>
 *
 *   - the embedded DNS on 127.0.0.11:53, answering from <records.json> (a DnsRecords object,
 *     read again for every query, so the test changes the replicas of a service by rewriting it);
 *   - a published port: every connection to the Unix socket <published.sock> (a path in the file
 *     system, which the namespaces share) is piped to <host:port> in this namespace, the way
 *     Docker's proxy forwards a host port into the network.
 *
 * Prints `ready` once both listen; SIGTERM stops it.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { answerDnsQuery, type DnsRecords } from './dnsAnswer.js';
import { forwardingServer } from './forwardingServer.js';

const DOCKER_DNS = { address: '127.0.0.11', port: 53 };

const [recordsPath, socketPath, target] = process.argv.slice(2);
const [targetHost, targetPort] = (target ?? '').split(':');
if (!recordsPath || !socketPath || !targetHost || !targetPort) {
  process.stderr.write('usage: dockerStandIn.ts <records.json> <published.sock> <host:port>\n');
  process.exit(2);
}

const dns = createSocket('udp4');
dns.on('message', (query, from) => {
  const records = JSON.parse(readFileSync(recordsPath, 'utf8')) as DnsRecords;
  const reply = answerDnsQuery(query, records);
  if (reply) dns.send(reply, from.port, from.address);
});

const published = forwardingServer(() => connect({ host: targetHost, port: Number(targetPort) }));

await Promise.all([
  new Promise<void>((resolve) => dns.bind(DOCKER_DNS, resolve)),
  new Promise<void>((resolve) => published.server.listen(socketPath, resolve)),
]);
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  dns.close();
  void published.close();
});
