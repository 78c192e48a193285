import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ManagedChild } from '@aggregator/stack';

/**
 * Linux network namespaces for tests: network stacks of the test's own, each with its own
 * loopback (all of 127.0.0.0/8) and, when linked, a network between them, so processes can listen
 * on the addresses and ports a compose network gives its containers (127.0.0.11:53 in each,
 * `<container address>:8080`) without touching or colliding with the host or another test: the
 * links live entirely inside the test's namespaces. Needs root and iproute2's `ip`.
 */

type SpawnOptions = ConstructorParameters<typeof ManagedChild>[0];

function stderrOf(thrown: unknown): string {
  const stderr = (thrown as { stderr?: Buffer }).stderr?.toString().trim();
  return stderr || String(thrown);
}

/** `ip` (often in /usr/sbin, outside a user's PATH), or undefined. */
function ipBinary(): string | undefined {
  for (const candidate of ['ip', '/usr/sbin/ip', '/sbin/ip']) {
    try {
      execFileSync(candidate, ['-V'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

function ip(args: string[]): void {
  execFileSync(ipBinary() ?? 'ip', args, { stdio: 'pipe' });
}

/** Namespaces made and not yet deleted: a run that ends early (a timeout, `exit`) deletes them. */
const live = new Set<string>();
process.on('exit', () => {
  for (const name of live) {
    try {
      ip(['netns', 'delete', name]);
    } catch {
      // already gone
    }
  }
});

/** Why no network namespace can be made here, or undefined when one can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces exist on Linux only';
  if (process.getuid?.() !== 0) return 'creating a network namespace (ip netns add) needs root';
  if (!ipBinary()) return '`ip` was not found: install iproute2 (Debian/Ubuntu: apt-get install iproute2)';
  const probe = `aggregator-probe-${randomUUID().slice(0, 8)}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (thrown: unknown) {
    return `ip netns add failed: ${stderrOf(thrown)}`;
  }
  ip(['netns', 'delete', probe]);
  return undefined;
}

export interface Netns {
  readonly name: string;
  /** Starts a child process of ours inside the namespace (`ip netns exec` runs it in place). */
  spawn(options: SpawnOptions): ManagedChild;
  /** Gives the namespace's `eth0` (see linkNetns) one more address, e.g. `10.89.0.3/24`. */
  addAddress(cidr: string): void;
}

/**
 * Links two namespaces with a veth pair, `eth0` in each, addressed `cidrA` and `cidrB` (one
 * subnet); the pair is made inside the namespaces, so its names never meet the host's.
 */
export function linkNetns(a: Netns, b: Netns, cidrA: string, cidrB: string): void {
  ip(['-n', a.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.name]);
  for (const [ns, cidr] of [
    [a, cidrA],
    [b, cidrB],
  ] as const) {
    ns.addAddress(cidr);
    ip(['-n', ns.name, 'link', 'set', 'eth0', 'up']);
  }
}

/** A new network namespace with its loopback up, for the duration of `fn`; deleted afterwards. */
export async function withNetns<T>(fn: (netns: Netns) => Promise<T>): Promise<T> {
  const name = `aggregator-${randomUUID().slice(0, 8)}`;
  ip(['netns', 'add', name]);
  live.add(name);
  try {
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    return await fn({
      name,
      spawn: (options) =>
        new ManagedChild({
          ...options,
          command: ipBinary() ?? 'ip',
          args: ['netns', 'exec', name, options.command, ...options.args],
        }),
      addAddress: (cidr) => ip(['-n', name, 'address', 'add', cidr, 'dev', 'eth0']),
    });
  } finally {
    ip(['netns', 'delete', name]);
    live.delete(name);
  }
}
