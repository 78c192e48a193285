import { isIPv6 } from 'node:net';

/**
 * Where a server listens, as `server.address()` reports it, and what that means for who can
 * reach it: the local stack listens on loopback unless asked otherwise, and says so.
 */

export interface ListenAddress {
  address: string;
  port: number;
}

/** Whether only this machine can connect: 127.0.0.0/8 or ::1 (also IPv4-mapped). */
export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === '::1';
}

/** Whether the server listens on every interface (0.0.0.0, or :: which usually takes IPv4 too). */
function isEveryInterface(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Who can reach a server listening on `address`, in words. */
export function reachOf(address: string): 'loopback only' | 'every interface' | 'beyond loopback' {
  if (isLoopback(address)) return 'loopback only';
  return isEveryInterface(address) ? 'every interface' : 'beyond loopback';
}

/** A URL that reaches the server from this machine. */
export function localUrl({ address, port }: ListenAddress): string {
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  return `http://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatAddress({ address, port }: ListenAddress): string {
  return `${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/**
 * What to warn about when the API listens beyond loopback without its tokens (undefined when
 * there is nothing to say): then anyone who can reach this machine can publish, or read.
 */
export function exposureWarning(
  listen: ListenAddress,
  tokens: { apiToken?: string; readToken?: string },
): string | undefined {
  if (isLoopback(listen.address)) return undefined;
  const missing = [
    ...(tokens.apiToken ? [] : [{ name: 'API_TOKEN', can: 'publish events' }]),
    ...(tokens.readToken ? [] : [{ name: 'READ_TOKEN', can: 'read them (GET /events, /stats, /metrics)' }]),
  ];
  if (missing.length === 0) return undefined;
  return (
    `warning: the API listens on ${formatAddress(listen)} (${reachOf(listen.address)}) and ` +
    `${missing.map((m) => m.name).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: anyone who can reach ` +
    `this machine can ${missing.map((m) => m.can).join(' and ')}. Set ${missing.length > 1 ? 'both' : 'it'}, or ` +
    'listen on 127.0.0.1 (the default: no --host, no HOST).'
  );
}
