import { posix } from 'node:path';
import { API_NODE_FLAGS, ERROR_CODES, STATUS_PAGE_ASSETS } from '@aggregator/api';
import { loadConfig } from '@aggregator/common';
import { expect } from 'chai';
import { interpolate, readMergedCompose } from './support/composeMerge.js';
import {
  type ComposeFile,
  type ComposeService,
  commandOf,
  composeHeaderCommands,
  dependenciesOf,
  directivesOf,
  effective,
  environmentOf,
  type HaproxySection,
  mountsOf,
  publishedAddressesOf,
  publishedPortsOf,
  readCompose,
  readDockerfile,
  readHaproxyConfig,
  readRepoFile,
  type Stage,
  stageChain,
} from './support/deployFiles.js';

/**
 * The Docker deployment as files: docker-compose.yml, the Dockerfile and deploy/haproxy.cfg are
 * checked against what the service needs (test/loadBalancer.test.ts runs the haproxy.cfg for real).
 */

const compose: ComposeFile = readCompose();
const stages: Stage[] = readDockerfile();
const haproxy: HaproxySection[] = readHaproxyConfig();
const defaults = loadConfig({});

/** What an operator sets before `up` (the header of docker-compose.yml). */
const SECRETS: Record<string, string> = {
  API_TOKEN: 'publish-token-0123456789',
  READ_TOKEN: 'read-token-0123456789ab',
  REDIS_PASSWORD: 'redis-password-0123456789',
  POSTGRES_PASSWORD: 'postgres-password-0123456789',
};

/** Every service of both compose files, as `-f docker-compose.yml -f docker-compose.postgres.yml` runs them. */
const everyService = readMergedCompose('docker-compose.yml', 'docker-compose.postgres.yml').services;

/** Bytes of a compose memory size (`512m`, `1g`, `1536m`, a number of bytes). */
function composeBytes(value: string | number | undefined): number {
  if (typeof value === 'number') return value;
  const [, digits = '', unit = ''] = /^(\d+)([bkmg]?)$/i.exec(value ?? '') ?? [];
  const scale: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return digits === '' ? Number.NaN : Number(digits) * (scale[unit.toLowerCase()] ?? Number.NaN);
}

/** The redis-server words that follow `--user` up to the next option: one ACL rule each. */
function aclRules(words: string[]): string[][] {
  const rules: string[][] = [];
  words.forEach((word, i) => {
    if (word !== '--user') return;
    const end = words.findIndex((w, j) => j > i && w.startsWith('--'));
    rules.push(words.slice(i + 1, end < 0 ? undefined : end));
  });
  return rules;
}

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

function section(kind: string, name?: string): HaproxySection {
  const found = haproxy.find((h) => h.kind === kind && (name === undefined || h.name === name));
  if (!found) throw new Error(`deploy/haproxy.cfg has no ${kind} section ${name ?? ''}`);
  return found;
}

/** `1gb` → bytes, as redis reads memory sizes. */
function redisBytes(value: string): number {
  const [, digits = '', unit = ''] = /^(\d+)(b|kb?|mb?|gb?)?$/i.exec(value) ?? [];
  const scale: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(digits) * (scale[unit.toLowerCase()] ?? Number.NaN);
}

/** `haproxy:2.6.32-alpine` → `2.6.32`: the release a tag pins, or undefined when it pins none. */
function pinnedRelease(image: string): string | undefined {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return 'digest';
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return /^v?(\d+\.\d+\.\d+)(?:-[\w.-]+)?$/.exec(tag ?? '')?.[1];
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
    // Onto the port deploy/haproxy.cfg binds in the container (on the host: see the security tests).
    expect(service('lb').ports?.map((port) => interpolate(String(port), {}))).to.deep.equal(['127.0.0.1:8080:8080']);
    expect(directivesOf(section('frontend'), 'bind')).to.deep.equal(['bind :8080']);
  });

  it('shares SQLite on one named volume, read-write for workers and API replicas alike', () => {
    const worker = sqliteMount('worker');
    const api = sqliteMount('api');
    expect(worker, 'worker mount of SQLITE_PATH').to.not.equal(undefined);
    expect(api, 'api mount of SQLITE_PATH').to.not.equal(undefined);
    expect(compose.volumes ?? {}).to.have.property(worker?.source ?? '');
    expect(api?.source).to.equal(worker?.source);
    expect(worker?.readOnly).to.equal(false);
    // A read-only mount keeps the API from recreating the -wal/-shm files a clean shutdown removed
    // (test/apiStartOrder.test.ts runs the API as this mount says).
    expect(api?.readOnly).to.equal(false);
    expect(environmentOf(service('api')).SQLITE_PATH).to.equal(environmentOf(service('worker')).SQLITE_PATH);
    // The API serves whatever starts first: it waits for no worker.
    expect(dependenciesOf(service('api'))).to.not.have.property('worker');
  });

  it('runs Redis with an AOF synced every second, no RDB snapshots, a memory bound with noeviction, a health check and a named data volume', () => {
    const redis = service('redis');
    const words = commandOf(redis);
    const option = (name: string) => {
      const at = words.indexOf(name);
      expect(at, `redis-server ${name}`).to.be.above(0);
      return words[at + 1];
    };
    expect(option('--appendonly')).to.equal('yes');
    expect(option('--appendfsync')).to.equal('everysec');
    expect(option('--save')).to.equal('');
    expect(redisBytes(option('--maxmemory') ?? '')).to.be.at.least(256 * 1024 ** 2);
    expect(option('--maxmemory-policy')).to.equal('noeviction');
    expect([redis.healthcheck?.test ?? []].flat().join(' ')).to.match(/\bredis-cli .*\bping\b/);
    const data = mountsOf(redis).find((m) => m.target === '/data');
    expect(compose.volumes ?? {}).to.have.property(data?.source ?? '');
  });

  it('points api and worker at the redis service, started once Redis is healthy', () => {
    for (const name of ['api', 'worker']) {
      const url = new URL(interpolate(environmentOf(service(name)).REDIS_URL ?? '', SECRETS));
      expect(`${url.protocol}//${url.host}`, name).to.equal('redis://redis:6379');
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

  it('ships in the api image every file the status page reads at start-up, where it reads it', () => {
    // `COPY --from=build /app/<from> <to>`: the build stage's file or folder, and where it lands in /app.
    const copies = stageChain(stages, 'api')
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build '))
      .map((i) => i.args.split(/\s+/).slice(1))
      .map(([from = '', to = '']) => ({ from: posix.relative('/app', from), to }));
    for (const asset of Object.values(STATUS_PAGE_ASSETS).map((path) => `api/${path}`)) {
      const covering = copies.find((c) => asset === c.to || asset.startsWith(`${c.to}/`));
      expect(covering, `${asset} copied into the api image`).to.not.equal(undefined);
      expect(posix.join(covering?.from ?? '', posix.relative(covering?.to ?? '', asset)), asset).to.equal(asset);
    }
  });

  it('pins every image, its own and the Dockerfile bases, to a release', () => {
    const images = [
      ...Object.entries(compose.services).flatMap(([name, s]) => (s.image ? [[`service ${name}`, s.image]] : [])),
      ...stages
        .filter((stage) => !stages.some((other) => other.name === stage.from))
        .map((stage) => [`Dockerfile stage ${stage.name}`, stage.from]),
    ];
    expect(images.length).to.be.at.least(4);
    for (const [where, image = ''] of images) {
      expect(pinnedRelease(image), `${where}: ${image} names no release (x.y.z) or digest`).to.not.equal(undefined);
    }
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
    expect(k6.image).to.match(/^grafana\/k6:/);
    expect(commandOf(k6)).to.deep.equal(['run', '/scripts/batch.js']);
    expect(environmentOf(k6).BASE_URL).to.equal('http://lb:8080');
    expect(mountsOf(k6)).to.deep.include({ source: './load/k6', target: '/scripts', readOnly: true });
  });

  it('shows in its header the commands that start the cluster, then load it without touching its scale', () => {
    const commands = composeHeaderCommands();
    const up = commands.filter((c) => c[2] === 'up');
    expect(up, 'one `docker compose up` command').to.have.length(1);
    expect(up[0]?.join(' '))
      .to.match(/ -d /)
      .and.match(/ --scale api=\d+/)
      .and.match(/ --scale worker=\d+/);

    // `run` would start the service's dependencies at this file's scale (one each), scaling the
    // running cluster down: every documented `run` says --no-deps, and the services have no
    // dependencies to start anyway.
    const runs = commands.filter((c) => c.includes('run'));
    const loadServices = Object.entries(compose.services)
      .filter(([, s]) => s.profiles?.includes('load'))
      .map(([name]) => name);
    const ran = runs.map((c) => c[c.length - 1] ?? '');
    expect([...ran].sort()).to.deep.equal([...loadServices].sort());
    for (const command of runs) {
      const text = command.join(' ');
      expect(command.slice(0, 5), text).to.deep.equal(['docker', 'compose', '--profile', 'load', 'run']);
      expect(command, text).to.include.members(['--rm', '--no-deps']);
    }
    for (const name of loadServices) expect(service(name).depends_on, `${name} depends_on`).to.equal(undefined);
  });
});

describe('docker-compose.yml security (with docker-compose.postgres.yml)', () => {
  it('runs every service without capabilities or a way to gain privileges, on a read-only root, with a memory limit', () => {
    expect(Object.keys(everyService)).to.include.members([
      'redis',
      'api',
      'worker',
      'lb',
      'postgres',
      'publisher',
      'k6',
    ]);
    for (const [name, s] of Object.entries(everyService)) {
      expect(s.cap_drop, `${name} cap_drop`).to.deep.equal(['ALL']);
      expect(s.security_opt, `${name} security_opt`).to.include('no-new-privileges:true');
      expect(s.read_only, `${name} read_only`).to.equal(true);
      const limit = composeBytes(s.mem_limit ?? s.deploy?.resources?.limits?.memory);
      expect(limit, `${name} memory limit`).to.be.within(64 * 1024 ** 2, 8 * 1024 ** 3);
      // The images' entrypoints chown and switch users as root, which needs the dropped
      // capabilities: the ones that start as root run as their own user from the start.
      if (s.image?.startsWith('redis:') || s.image?.startsWith('postgres:')) {
        expect(s.user, `${name} user`).to.be.oneOf(['redis', 'postgres']);
      }
    }
    // Redis's memory limit leaves room above its own bound.
    const words = commandOf(service('redis'));
    const maxmemory = redisBytes(words[words.indexOf('--maxmemory') + 1] ?? '');
    expect(composeBytes(service('redis').mem_limit)).to.be.above(maxmemory);
  });

  it('binds the load balancer to this host unless LB_BIND_ADDRESS opens it, and publishes nothing else', () => {
    for (const [name, s] of Object.entries(everyService)) {
      for (const address of publishedAddressesOf(s)) {
        expect(address, `${name}: a port without a host address is open on every interface`).to.not.equal('');
        expect(interpolate(address, {}), `${name} by default`).to.equal('127.0.0.1');
        expect(interpolate(address, { LB_BIND_ADDRESS: '0.0.0.0' }), `${name} opened`).to.equal('0.0.0.0');
      }
      if (name !== 'lb') expect(s.ports, `${name} ports`).to.equal(undefined);
    }
    expect(publishedAddressesOf(service('lb'))).to.have.length(1);
  });

  it('refuses to start the API without its tokens, and takes them from the environment', () => {
    const env = environmentOf(service('api'));
    for (const name of ['API_TOKEN', 'READ_TOKEN', 'REDIS_PASSWORD']) {
      const { [name]: _, ...missing } = SECRETS;
      expect(() => Object.values(env).map((v) => interpolate(v, missing)), `without ${name}`).to.throw(
        new RegExp(`required variable ${name}`),
      );
    }
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v, SECRETS)])));
    expect(config).to.include({ API_TOKEN: SECRETS.API_TOKEN, READ_TOKEN: SECRETS.READ_TOKEN });
    expect(config.ADMIN_TOKEN, 'the queue UI is off unless ADMIN_TOKEN is set').to.equal(undefined);
    expect(
      loadConfig({ ADMIN_TOKEN: interpolate(env.ADMIN_TOKEN ?? '', { ADMIN_TOKEN: 'admin-token-0123456789' }) })
        .ADMIN_TOKEN,
    ).to.equal('admin-token-0123456789');
    // The load tools send the same tokens.
    for (const name of ['publisher', 'k6']) {
      const tools = environmentOf(service(name));
      expect(interpolate(tools.API_TOKEN ?? '', SECRETS), name).to.equal(SECRETS.API_TOKEN);
      expect(interpolate(tools.READ_TOKEN ?? '', SECRETS), name).to.equal(SECRETS.READ_TOKEN);
    }
  });

  it("turns off Redis's anonymous default user; the services sign in as a user with REDIS_PASSWORD", () => {
    const redis = service('redis');
    const rules = aclRules(commandOf(redis)).map((rule) => rule.map((word) => interpolate(word, SECRETS)));
    expect(rules).to.deep.include(['default', 'off']);
    const user = rules.find((rule) => rule[0] !== 'default');
    expect(user?.slice(0, 3)).to.deep.equal(['aggregator', 'on', `>${SECRETS.REDIS_PASSWORD}`]);
    expect(() => commandOf(redis).map((word) => interpolate(word, {}))).to.throw(/required variable REDIS_PASSWORD/);
    for (const name of ['api', 'worker']) {
      const url = new URL(interpolate(environmentOf(service(name)).REDIS_URL ?? '', SECRETS));
      expect([url.username, decodeURIComponent(url.password)], name).to.deep.equal([
        'aggregator',
        SECRETS.REDIS_PASSWORD,
      ]);
    }
    // The health check signs in too, its password in the environment, not on a command line.
    const check = [redis.healthcheck?.test ?? []].flat().join(' ');
    expect(check).to.include('--user aggregator').and.not.include('REDIS_PASSWORD').and.not.match(/ -a /);
    expect(interpolate(environmentOf(redis).REDISCLI_AUTH ?? '', SECRETS)).to.equal(SECRETS.REDIS_PASSWORD);
  });
});

describe('the load balancer (deploy/haproxy.cfg in the lb service)', () => {
  it('is deploy/haproxy.cfg, mounted where the image reads it and run by its own command', () => {
    const lb = service('lb');
    expect(lb.image).to.match(/^haproxy:2\.6\.\d+-alpine$/);
    expect(mountsOf(lb)).to.deep.equal([
      { source: './deploy/haproxy.cfg', target: '/usr/local/etc/haproxy/haproxy.cfg', readOnly: true },
    ]);
    // Nothing that would make the container run something else than the test runs.
    expect(lb.command, 'lb command').to.equal(undefined);
    expect(lb.entrypoint, 'lb entrypoint').to.equal(undefined);
    expect(lb.environment, 'lb environment').to.equal(undefined);
  });

  it("follows the replicas of the api service through Docker's DNS", () => {
    const resolvers = section('resolvers');
    expect(directivesOf(resolvers, 'nameserver')).to.deep.equal([`nameserver ${resolvers.name} 127.0.0.11:53`]);
    const [template = ''] = directivesOf(section('backend'), 'server-template');
    const [, , slots = '0', target = '', ...params] = template.split(' ');
    expect(target).to.equal(`api:${defaults.PORT}`);
    expect(service('api').expose).to.deep.equal([String(defaults.PORT)]);
    expect(Number(slots), 'replica slots').to.be.at.least(8);
    expect(params.join(' ')).to.include(`resolvers ${resolvers.name}`).and.include('check');
  });

  it('leaves MAX_BODY_BYTES to the API, refusing only bodies far over it', () => {
    const denies = directivesOf(section('frontend'), 'http-request deny');
    const ceilings = denies.map((d) => /req\.hdr_val\(content-length\) gt (\d+)/.exec(d)?.[1]).map(Number);
    expect(ceilings).to.have.length(1);
    const [ceiling = 0] = ceilings;
    expect(denies[0]).to.include('deny_status 413');
    expect(ceiling).to.be.at.least(8 * defaults.MAX_BODY_BYTES);
    expect(directivesOf(section('defaults'), 'http-error status 413').join()).to.include(`${ceiling} bytes`);
  });

  it("answers its own errors in the API's shape, with Retry-After where a retry can succeed", () => {
    const replies = directivesOf(section('defaults'), 'http-error').map((line) => {
      const [, status = '', body = '', rest = ''] =
        /^http-error status (\d+) content-type application\/json string '([^']*)'(.*)$/.exec(line) ?? [];
      return { line, status: Number(status), body: JSON.parse(body || 'null') as unknown, rest };
    });
    const byStatus = Object.fromEntries(replies.map((r) => [r.status, r]));
    expect(Object.keys(byStatus).map(Number)).to.include.members([413, 502, 503, 504]);
    for (const reply of replies) {
      expect(reply.body, reply.line).to.have.all.keys('error');
      expect((reply.body as { error: object }).error, reply.line).to.have.all.keys('code', 'message');
      expect(reply.rest.trim(), reply.line).to.equal(reply.status >= 502 ? 'hdr Retry-After 1' : '');
    }
    const codeOf = (status: number) =>
      (byStatus[status]?.body as { error?: { code?: string } } | undefined)?.error?.code;
    // The status the API also answers keeps the API's code.
    expect(codeOf(413))
      .to.equal('payload_too_large')
      .and.be.oneOf([...ERROR_CODES]);
    expect([codeOf(502), codeOf(503), codeOf(504)]).to.deep.equal([
      'bad_gateway',
      'no_replica_available',
      'gateway_timeout',
    ]);
  });

  it('passes on only requests whose connection failed, never one a replica received', () => {
    const backend = section('backend');
    expect(directivesOf(backend, 'retry-on')).to.deep.equal(['retry-on conn-failure']);
    expect(directivesOf(section('defaults'), 'retry-on')).to.deep.equal([]);
    expect(directivesOf(backend, 'option redispatch')).to.have.length(1);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, on a pinned node 20 bookworm-slim, with production dependencies only in the runtime', () => {
    expect(stages.length).to.be.at.least(2);
    for (const target of ['api', 'worker']) {
      expect(stageChain(stages, target).at(-1)?.from, target).to.match(/^node:20\.\d+\.\d+-bookworm-slim$/);
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

  it('copies the source of every package the build compiles before it builds', () => {
    const references = (JSON.parse(readRepoFile('tsconfig.json')) as { references: Array<{ path: string }> })
      .references;
    const build = stages.find((s) => s.name === 'build');
    const runBuild = build?.instructions.findIndex((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args)) ?? -1;
    expect(runBuild, 'the build stage runs npm run build').to.be.greaterThan(0);
    const copied = (build?.instructions ?? []).slice(0, runBuild).filter((i) => i.op === 'COPY');
    for (const { path } of references) {
      expect(
        copied.some((i) => i.args.split(' ')[0] === `${path}/`),
        `COPY ${path}/ before npm run build`,
      ).to.equal(true);
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
