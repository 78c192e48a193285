import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Why nothing can be running at `url` when its host name does not resolve, else undefined.
 * Checked once, before a run: a service that refuses connections may be restarting, so that is
 * retried for --max-retry-ms, but a name that does not resolve would only be retried into the
 * same answer. With docker compose it means the cluster is not up (Docker's DNS forgets stopped
 * containers), or the tool runs on another network.
 */
export async function unresolvedHost(url: string): Promise<string | undefined> {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) return undefined;
  try {
    await lookup(host);
    return undefined;
  } catch (thrown: unknown) {
    const code = (thrown as { code?: unknown }).code;
    return (
      `cannot resolve "${host}", the host of ${url}${typeof code === 'string' ? ` (${code})` : ''}: ` +
      'is the service running? (With docker compose, start the cluster first: docker compose up -d.)'
    );
  }
}
