import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { loadConfig } from '@aggregator/common';
import { API_NODE_FLAGS } from '@aggregator/load';
import { expect } from 'chai';
import {
  type ComposeFile,
  type ComposeService,
  commandOf,
  dependenciesOf,
  effective,
  environmentOf,
  mountsOf,
  publishedPortsOf,
  readCompose,
  readDockerfile,
  readRepoFile,
  type Stage,
  stageChain,
} from './support/deployFiles.js';
import { NGINX_TEMPLATE_PATH, NGINX_TEMPLATE_VARIABLES } from './support/withNginx.js';

/**
 * The Docker deployment as files: docker-compose.yml, the Dockerfile and the nginx template are
 * checked against what the service needs (test/nginx.test.ts runs the template for real).
 */

const compose: ComposeFile = readCompose();
const stages: Stage[] = readDockerfile();
const template = readFileSync(NGINX_TEMPLATE_PATH, 'utf8');

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function targetOf(name: string): string | undefined {
  const build = service(name).build;
  return typeof build === 'object' ? build.target : undefined;
}

/** The mount that holds the service's SQLITE_PATH. */
function sqliteMount(name: string) {
  const path = environmentOf(service(name)).SQLITE_PATH ?? '';
  return mountsOf(service(name)).find((m) => m.target === posix.dirname(path) || path.startsWith(`${m.target}/`));
}

/** `5m` → bytes, as nginx reads sizes. */
function nginxSize(value: string): number {
  const [, digits = '', unit = ''] = /^(\d+)([kKmMgG]?)$/.exec(value) ?? [];
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit.toLowerCase()] ?? Number.NaN;
  return Number(digits) * scale;
}

describe('docker-compose.yml', () => {
  it('runs redis, api, worker and a load balancer by default', () => {
    expect(compose.services).to.include.keys('redis', 'api', 'worker', 'lb');
    for (const name of ['redis', 'api', 'worker', 'lb']) expect(service(name).profiles, name).to.equal(undefined);
  });

  it('publishes only the load balancer on the host (8080), so api and worker scale with --scale', () => {
    for (const name of ['api', 'worker']) {
      expect(service(name).ports, `${name} ports`).to.equal(undefined);
      expect(service(name).container_name, `${name} container_name`).to.equal(undefined);
    }
    expect(publishedPortsOf(service('lb'))).to.deep.equal([8080]);
    expect(environmentOf(service('lb')).LB_LISTEN).to.equal('8080');
  });

  it('shares SQLite on one named volume: read-write for workers, read-only for API replicas', () => {
    const worker = sqliteMount('worker');
    const api = sqliteMount('api');
    expect(worker, 'worker mount of SQLITE_PATH').to.not.equal(undefined);
    expect(api, 'api mount of SQLITE_PATH').to.not.equal(undefined);
    expect(compose.volumes ?? {}).to.have.property(worker?.source ?? '');
    expect(api?.source).to.equal(worker?.source);
    expect(worker?.readOnly).to.equal(false);
    expect(api?.readOnly).to.equal(true);
    expect(environmentOf(service('api')).SQLITE_PATH).to.equal(environmentOf(service('worker')).SQLITE_PATH);
  });

  it('runs Redis with an AOF synced every second, noeviction, a health check and a named data volume', () => {
    const redis = service('redis');
    const command = commandOf(redis).join(' ');
    expect(command).to.include('--appendonly yes');
    expect(command).to.include('--appendfsync everysec');
    expect(command).to.include('--maxmemory-policy noeviction');
    expect([redis.healthcheck?.test ?? []].flat().join(' ')).to.include('redis-cli ping');
    const data = mountsOf(redis).find((m) => m.target === '/data');
    expect(compose.volumes ?? {}).to.have.property(data?.source ?? '');
  });

  it('points api and worker at the redis service, started once Redis is healthy', () => {
    for (const name of ['api', 'worker']) {
      expect(environmentOf(service(name)).REDIS_URL, name).to.equal('redis://redis:6379');
      expect(dependenciesOf(service(name)).redis, name).to.equal('service_healthy');
    }
  });

  it("builds api and worker from this repository's Dockerfile, each from its own target", () => {
    const names = stages.map((s) => s.name);
    expect(targetOf('api')).to.equal('api');
    expect(targetOf('worker')).to.equal('worker');
    expect(names).to.include.members(['api', 'worker']);
    expect(JSON.parse(effective(stages, 'api', 'CMD') ?? '')).to.deep.equal([
      'node',
      ...API_NODE_FLAGS,
      'api/dist/main.js',
    ]);
    expect(effective(stages, 'worker', 'CMD')).to.equal('["node", "worker/dist/main.js"]');
  });

  it('keeps the load tools under the `load` profile: the publisher CLI and k6, both aimed at lb', () => {
    const publisher = service('publisher');
    const k6 = service('k6');
    expect(publisher.profiles).to.deep.equal(['load']);
    expect(k6.profiles).to.deep.equal(['load']);
    expect(commandOf(publisher).slice(0, 4)).to.deep.equal([
      'node',
      'load/dist/publishCli.js',
      '--url',
      'http://lb:8080',
    ]);
    // The image the publisher runs holds load/dist.
    const copies = stages
      .filter((s) => s.name === targetOf('publisher') || s.name === 'runtime')
      .flatMap((s) => s.instructions);
    expect(copies.some((i) => i.op === 'COPY' && / load\/dist$/.test(i.args))).to.equal(true);
    expect(k6.image).to.match(/^grafana\/k6(:|$)/);
    expect(commandOf(k6)).to.deep.equal(['run', '/scripts/batch.js']);
    expect(environmentOf(k6).BASE_URL).to.equal('http://lb:8080');
    expect(mountsOf(k6)).to.deep.include({ source: './load/k6', target: '/scripts', readOnly: true });
  });
});

describe('the load balancer (deploy/nginx.conf.template in the lb service)', () => {
  it('limits request bodies to the default MAX_BODY_BYTES (5 MiB)', () => {
    const sizes = [...template.matchAll(/^\s*client_max_body_size\s+(\S+);/gm)].map((m) => nginxSize(m[1] ?? ''));
    expect(sizes).to.deep.equal([loadConfig({}).MAX_BODY_BYTES]);
    expect(loadConfig({}).MAX_BODY_BYTES).to.equal(5 * 1024 * 1024);
  });

  it('is rendered by the official image from the template, with every placeholder set and nothing else substituted', () => {
    const lb = service('lb');
    const env = environmentOf(lb);
    const mount = mountsOf(lb).find((m) => m.source === './deploy/nginx.conf.template');
    expect(mount).to.deep.equal({
      source: './deploy/nginx.conf.template',
      target: '/etc/nginx/templates/nginx.conf.template',
      readOnly: true,
    });
    // Rendered to /etc/nginx/nginx.conf (the template is a whole nginx.conf, not a conf.d part).
    expect(env.NGINX_ENVSUBST_OUTPUT_DIR).to.equal('/etc/nginx');
    const placeholders = new Set([...template.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    expect([...placeholders].sort()).to.deep.equal([...NGINX_TEMPLATE_VARIABLES].sort());
    for (const name of NGINX_TEMPLATE_VARIABLES) expect(env, name).to.have.property(name).that.is.not.empty;
    // The image substitutes every environment variable the filter matches: only ours.
    const filter = new RegExp(env.NGINX_ENVSUBST_FILTER ?? '');
    for (const name of NGINX_TEMPLATE_VARIABLES) expect(name).to.match(filter);
    for (const name of ['HOSTNAME', 'HOME', 'PATH', 'NGINX_VERSION', 'PKG_RELEASE']) expect(name).to.not.match(filter);
  });

  it('follows the api replicas through Docker DNS (`resolve`, nginx 1.27.3 or newer)', () => {
    const lb = service('lb');
    // A pinned version: `nginx:1.28-alpine` is any 1.28.x; `latest` or `alpine` would not say.
    const [, major = '0', minor = '0', patch = '99'] = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(lb.image ?? '') ?? [];
    const version = Number(major) * 1e6 + Number(minor) * 1e3 + Number(patch);
    expect(version, `${lb.image} supports upstream "resolve"`).to.be.at.least(1_027_003);
    expect(environmentOf(lb).LB_UPSTREAM_SERVERS).to.equal(`server api:${loadConfig({}).PORT} resolve;`);
    expect(template).to.match(/^\s*resolver 127\.0\.0\.11 valid=\d+s/m);
    expect(template).to.match(/^\s*zone api_replicas /m);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, on node:20-bookworm-slim, with production dependencies only in the runtime', () => {
    expect(stages.length).to.be.at.least(2);
    for (const target of ['api', 'worker']) {
      expect(stageChain(stages, target).at(-1)?.from, target).to.equal('node:20-bookworm-slim');
    }
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).to.equal(true);
    // better-sqlite3 is compiled where the toolchain is, never in the runtime stages.
    expect(runs.some((r) => /\bg\+\+/.test(r) && /\bpython3\b/.test(r))).to.equal(true);
  });

  it('copies every workspace manifest before npm ci, so the lockfile matches', () => {
    const workspaces = (JSON.parse(readRepoFile('package.json')) as { workspaces: string[] }).workspaces;
    for (const stage of stages) {
      const firstCi = stage.instructions.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      if (firstCi < 0) continue;
      const chain = [stage, ...stages.filter((s) => s.name === stage.from)];
      const copied = chain.flatMap((s) => (s === stage ? s.instructions.slice(0, firstCi) : s.instructions));
      for (const ws of workspaces) {
        const manifest = `${ws}/package.json`;
        expect(
          copied.some((i) => i.op === 'COPY' && i.args.split(' ').includes(manifest)),
          `${manifest} before npm ci in stage ${stage.name}`,
        ).to.equal(true);
      }
    }
  });

  it('runs as a non-root user under tini, with a HEALTHCHECK for each target', () => {
    for (const target of ['api', 'worker']) {
      const user = effective(stages, target, 'USER') ?? 'root';
      expect(user.split(':')[0], `${target} USER`).to.not.be.oneOf(['root', '0']);
      expect(effective(stages, target, 'ENTRYPOINT'), `${target} ENTRYPOINT`).to.match(/tini/);
      expect(effective(stages, target, 'HEALTHCHECK'), `${target} HEALTHCHECK`).to.include(
        `deploy/healthcheck.mjs", "${target}"`,
      );
    }
  });

  it('keeps host build output and modules out of the build context', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored).to.include.members(['**/node_modules', '**/dist', '.git', 'data']);
    expect(ignored).to.include('!test/package.json');
  });
});
