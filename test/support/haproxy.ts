import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@aggregator/stack';

/** The load balancer's configuration: the file docker-compose.yml mounts into the haproxy image. */
export const LB_CONFIG_PATH = join(REPO_ROOT, 'deploy', 'haproxy.cfg');

/**
 * How the image runs it: its entrypoint turns the default command `haproxy -f <config>` into
 * `haproxy -W -db -f <config>` (master-worker, in the foreground).
 */
export function haproxyArgs(configPath: string): string[] {
  return ['-W', '-db', '-f', configPath];
}

/** `2.6` of `HAProxy version 2.6.12-1+deb12u4 …`. */
export function haproxyMajorVersion(binary: string): string {
  const banner = execFileSync(binary, ['-v'], { encoding: 'utf8' });
  const [, version] = /HA-?Proxy version (\d+\.\d+)/.exec(banner) ?? [];
  if (!version) throw new Error(`cannot read the version of ${binary} from: ${banner}`);
  return version;
}

/** One line of the access log (the `log-format` of deploy/haproxy.cfg). */
export interface AccessLogEntry {
  time: string;
  request_id: string;
  client: string;
  method: string;
  uri: string;
  status: number;
  bytes_sent: number;
  time_ms: number;
  /** The replica that answered, `address:port`; `-:-` when none did. */
  server: string;
  /** Connection retries; `+N` when the request was passed to another replica. */
  retries: string;
  /** HAProxy's two-letter termination state: `--` for a normal end. */
  termination: string;
}

/** The access log entries among the lines haproxy wrote (its notices are plain text). */
export function parseAccessLog(lines: readonly string[]): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const line of lines) {
    if (!line.startsWith('{"time":')) continue;
    entries.push(JSON.parse(line) as AccessLogEntry);
  }
  return entries;
}
