import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/load';
import { waitUntil } from './waitUntil.js';
import { withTempDir } from './withStack.js';

/** The load balancer's configuration, the file docker-compose.yml gives the nginx image. */
export const NGINX_TEMPLATE_PATH = join(REPO_ROOT, 'deploy', 'nginx.conf.template');

/** The placeholders of the template (see its header); compose and the tests set each of them. */
export const NGINX_TEMPLATE_VARIABLES = ['LB_LISTEN', 'LB_UPSTREAM_SERVERS', 'LB_TEMP_DIR', 'LB_ACCESS_LOG'] as const;

export type NginxTemplateValues = Record<(typeof NGINX_TEMPLATE_VARIABLES)[number], string>;

/**
 * Fills in the template as the nginx image's entrypoint does (envsubst over the LB_* variables),
 * and fails on a placeholder that has no value instead of leaving it for nginx to trip over.
 */
export function renderNginxTemplate(template: string, values: NginxTemplateValues): string {
  return template.replace(/\$\{(LB_\w+)\}/g, (placeholder, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`nginx template: no value for ${placeholder}`);
    return values[name as keyof NginxTemplateValues];
  });
}

/** Finds the nginx binary (often in /usr/sbin, outside a user's PATH) or explains how to install it. */
export function nginxBinary(): string {
  const candidates = [process.env.NGINX_BIN, 'nginx', '/usr/sbin/nginx'].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'nginx was not found (tried NGINX_BIN, "nginx" on the PATH and /usr/sbin/nginx). The load-balancer ' +
      'tests run the real binary: install it (Debian/Ubuntu: apt-get install nginx; macOS: brew install nginx) ' +
      'or set NGINX_BIN to it.',
  );
}

/** One entry of the access log (the `lb_json` format of the template). */
export interface AccessLogEntry {
  request_id: string;
  method: string;
  uri: string;
  status: number;
  /** Every replica tried, in order: `127.0.0.1:1234, 127.0.0.1:5678`. */
  upstream: string;
  upstream_status: string;
}

export interface RunningNginx {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly child: ManagedChild;
  /** The access log so far: one entry per finished request. */
  accessLog(): AccessLogEntry[];
}

/**
 * Runs the repository's nginx configuration with a real `nginx` in front of `upstreams`
 * (`host:port` each) for the duration of `fn`, as a foreground child of this process; stops it
 * afterwards.
 */
export async function withNginx<T>(upstreams: string[], fn: (nginx: RunningNginx) => Promise<T>): Promise<T> {
  const binary = nginxBinary();
  return withTempDir(async (dir) => {
    // Started as root, nginx runs its workers as an unprivileged user (nobody), who must reach
    // the temp directory through this one.
    chmodSync(dir, 0o755);
    const tempDir = join(dir, 'temp');
    mkdirSync(tempDir);
    const port = await freePort();
    const confPath = join(dir, 'nginx.conf');
    const accessLogPath = join(dir, 'access.log');
    writeFileSync(
      confPath,
      renderNginxTemplate(readFileSync(NGINX_TEMPLATE_PATH, 'utf8'), {
        LB_LISTEN: `127.0.0.1:${port}`,
        LB_UPSTREAM_SERVERS: upstreams.map((u) => `server ${u};`).join(' '),
        LB_TEMP_DIR: tempDir,
        LB_ACCESS_LOG: accessLogPath,
      }),
    );
    // What the image's command adds (daemon off), plus a pid file of our own.
    const args = ['-p', `${dir}/`, '-c', confPath, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`];
    try {
      execFileSync(binary, ['-t', ...args], { stdio: 'pipe' });
    } catch (thrown: unknown) {
      const stderr = (thrown as { stderr?: Buffer }).stderr?.toString() ?? String(thrown);
      throw new Error(`nginx rejected deploy/nginx.conf.template:\n${stderr}`);
    }
    const child = new ManagedChild({ name: `nginx:${port}`, command: binary, args });
    try {
      const state = await waitUntil<'listening' | 'exited'>(
        async () => (!child.running ? 'exited' : (await canConnect(port)) && 'listening'),
        { what: `nginx to listen on ${port}` },
      );
      if (state === 'exited') throw new Error(`nginx exited at start:\n${child.tail()}`);
      return await fn({
        url: `http://127.0.0.1:${port}`,
        child,
        accessLog: () => readAccessLog(accessLogPath),
      });
    } finally {
      await child.stop();
    }
  });
}

function readAccessLog(path: string): AccessLogEntry[] {
  if (!existsSync(path)) return [];
  // nginx writes each line whole, when its request ends.
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AccessLogEntry);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
