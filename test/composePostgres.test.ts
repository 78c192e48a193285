import { loadConfig } from '@aggregator/common';
import { describeStore, storeKind } from '@aggregator/store';
import { expect } from 'chai';
import { interpolate, readComposeLayer, readMergedCompose } from './support/composeMerge.js';
import {
  type ComposeService,
  dependenciesOf,
  environmentOf,
  mountsOf,
  publishedPortsOf,
  readRepoFile,
} from './support/deployFiles.js';

/**
 * docker-compose.postgres.yml, checked as `docker compose -f docker-compose.yml -f
 * docker-compose.postgres.yml` would run it: PostgreSQL in place of the shared SQLite volume.
 */

const OVERRIDE = 'docker-compose.postgres.yml';
const merged = readMergedCompose('docker-compose.yml', OVERRIDE);
const base = readMergedCompose('docker-compose.yml');

function service(name: string): ComposeService {
  const found = merged.services[name];
  if (!found) throw new Error(`the merged compose files have no service "${name}"`);
  return found;
}

describe('docker-compose.postgres.yml (over docker-compose.yml)', () => {
  it('adds a postgres service on the official image pinned to a minor release, with a health check', () => {
    const postgres = service('postgres');
    expect(postgres.image).to.match(/^postgres:\d+\.\d+(-alpine)?$/);
    expect([postgres.healthcheck?.test ?? []].flat().join(' ')).to.match(/\bpg_isready\b/);
    expect(postgres.profiles).to.equal(undefined);
    // Reached by the services only: nothing published on the host.
    expect(publishedPortsOf(postgres)).to.deep.equal([]);
  });

  it('keeps its data on a named volume', () => {
    const data = mountsOf(service('postgres')).find((m) => m.target === '/var/lib/postgresql/data');
    expect(data?.readOnly).to.equal(false);
    expect(merged.volumes ?? {}).to.have.property(data?.source ?? '');
  });

  it('takes the password from POSTGRES_PASSWORD, which it requires: no default password', () => {
    const declared = environmentOf(service('postgres')).POSTGRES_PASSWORD ?? '';
    expect(declared).to.match(/^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/);
    expect(interpolate(declared, { POSTGRES_PASSWORD: 's3cret' })).to.equal('s3cret');
    expect(() => interpolate(declared, {})).to.throw(/required variable POSTGRES_PASSWORD/);
    for (const name of ['api', 'worker']) {
      expect(() => interpolate(environmentOf(service(name)).DATABASE_URL ?? '', {}), name).to.throw(
        /POSTGRES_PASSWORD/,
      );
    }
    expect(readRepoFile(OVERRIDE)).to.match(/POSTGRES_PASSWORD is required, with no default/);
  });

  it('points api and worker at that database only: DATABASE_URL, no SQLITE_PATH, no volume', () => {
    const postgres = environmentOf(service('postgres'));
    for (const name of ['api', 'worker']) {
      const env = environmentOf(service(name));
      expect(env, name).to.not.have.property('SQLITE_PATH');
      expect(mountsOf(service(name)), `${name} volumes`).to.deep.equal([]);
      for (const secret of [{ POSTGRES_PASSWORD: 's3cret' }, { POSTGRES_PASSWORD: 'an-other_one.0~' }]) {
        const url = new URL(interpolate(env.DATABASE_URL ?? '', secret));
        expect(url.protocol, name).to.equal('postgres:');
        expect(`${url.hostname}:${url.port}`, name).to.equal('postgres:5432');
        expect(url.username, name).to.equal(postgres.POSTGRES_USER);
        expect(decodeURIComponent(url.password), name).to.equal(interpolate(postgres.POSTGRES_PASSWORD ?? '', secret));
        expect(url.pathname, name).to.equal(`/${postgres.POSTGRES_DB}`);
      }
      // The service's own configuration takes it and picks the PostgreSQL store.
      const secrets = {
        POSTGRES_PASSWORD: 's3cret',
        REDIS_PASSWORD: 'r3dis',
        API_TOKEN: 'x'.repeat(16),
        READ_TOKEN: 'y'.repeat(16),
      };
      const config = loadConfig(
        Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v, secrets)])) as NodeJS.ProcessEnv,
      );
      expect(storeKind(config), name).to.equal('postgres');
      expect(describeStore(config), name).to.equal('PostgreSQL at postgres:5432/aggregator');
    }
  });

  it('starts api and worker once PostgreSQL is healthy, still after a healthy Redis', () => {
    for (const name of ['api', 'worker']) {
      expect(dependenciesOf(service(name)), name).to.include({ postgres: 'service_healthy', redis: 'service_healthy' });
    }
  });

  it('leaves the rest of docker-compose.yml as it is: Redis, the load balancer, the load tools', () => {
    for (const name of ['redis', 'lb', 'publisher', 'k6'])
      expect(service(name), name).to.deep.equal(base.services[name]);
    for (const name of ['api', 'worker']) {
      const { environment, volumes, depends_on, ...rest } = service(name);
      const { environment: e, volumes: v, depends_on: d, ...baseRest } = base.services[name] as ComposeService;
      expect(rest, name).to.deep.equal(baseRest);
      expect(environmentOf(service(name)).REDIS_URL, name).to.equal(environmentOf(base.services[name] ?? {}).REDIS_URL);
    }
  });

  it('removes the SQLite settings with !reset (Compose 2.24 or newer), which the header says', () => {
    const layer = readComposeLayer(OVERRIDE) as { services: Record<string, Record<string, unknown>> };
    for (const name of ['api', 'worker']) {
      expect(typeof layer.services[name]?.volumes, `${name} volumes: !reset []`).to.equal('symbol');
    }
    expect(readRepoFile(OVERRIDE)).to.match(/Compose 2\.24 or newer/);
    expect(readRepoFile(OVERRIDE)).to.include(
      'docker compose -f docker-compose.yml -f docker-compose.postgres.yml \\\n#     up -d --scale api=3 --scale worker=4',
    );
  });
});
