import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).to.include({
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 8080,
      SQLITE_PATH: './data/aggregator.db',
      MAX_BODY_BYTES: 5 * 1024 * 1024,
      MAX_BATCH: 10_000,
      DEDUP_TTL_SECONDS: 86_400,
    });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('coerces numbers and treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '9000', WORKER_CONCURRENCY: '' })).to.include({ PORT: 9000, WORKER_CONCURRENCY: 8 });
  });

  it('rejects bad values with a message that names every bad variable', () => {
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', JOB_ATTEMPTS: '0', AGGREGATOR_FAILPOINTS: 'nope' });
      expect.fail('expected a ConfigError');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      const message = (e as Error).message;
      for (const name of ['PORT', 'REDIS_URL', 'JOB_ATTEMPTS', 'AGGREGATOR_FAILPOINTS'])
        expect(message).to.contain(name);
    }
  });

  it('reads the fast-path memory budget as a share of maxmemory or a size, and explains a bad one', () => {
    expect(loadConfig({}).DEDUP_MEMORY_BUDGET).to.deep.equal({ share: 0.25 });
    expect(loadConfig({ DEDUP_MEMORY_BUDGET: '10%' }).DEDUP_MEMORY_BUDGET).to.deep.equal({ share: 0.1 });
    expect(loadConfig({ DEDUP_MEMORY_BUDGET: '64mb' }).DEDUP_MEMORY_BUDGET).to.deep.equal({ bytes: 64 * 1024 ** 2 });
    expect(loadConfig({ DEDUP_MEMORY_BUDGET: '1GB' }).DEDUP_MEMORY_BUDGET).to.deep.equal({ bytes: 1024 ** 3 });
    expect(loadConfig({ DEDUP_MEMORY_BUDGET: '2097152' }).DEDUP_MEMORY_BUDGET).to.deep.equal({ bytes: 2 * 1024 ** 2 });
    for (const bad of ['0%', '95%', '512kb', '10 MiB', 'lots', '-5mb']) {
      expect(() => loadConfig({ DEDUP_MEMORY_BUDGET: bad }), bad).to.throw(
        ConfigError,
        /from 1% to 90%[\s\S]*DEDUP_MEMORY_BUDGET/,
      );
    }
  });

  it('selects PostgreSQL only by a postgres:// or postgresql:// URL, and explains a malformed one', () => {
    expect(loadConfig({}).DATABASE_URL).to.equal(undefined);
    expect(loadConfig({}).DATABASE_POOL_SIZE).to.equal(4);
    for (const url of ['postgres://u:p@db:5432/agg', 'postgresql://db/agg']) {
      expect(loadConfig({ DATABASE_URL: url }).DATABASE_URL).to.equal(url);
    }
    for (const url of ['mysql://db/agg', 'db:5432/agg', 'postgres//db']) {
      expect(() => loadConfig({ DATABASE_URL: url }))
        .to.throw(ConfigError)
        .with.property('message')
        .that.matches(/DATABASE_URL/)
        .and.matches(/must be a postgres:\/\/ or postgresql:\/\/ URL/);
    }
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0' })).to.throw(ConfigError, /DATABASE_POOL_SIZE/);
  });

  it('reads partitions, the partitions a worker takes, and cluster seed nodes', () => {
    const config = loadConfig({
      QUEUE_PARTITIONS: '8',
      WORKER_PARTITIONS: '0-3,6',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001',
    });
    expect(config.WORKER_PARTITIONS).to.deep.equal([0, 1, 2, 3, 6]);
    expect(config.REDIS_CLUSTER_NODES).to.deep.equal([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
    const defaults = loadConfig({});
    expect(defaults).to.include({ QUEUE_PARTITIONS: 1, REDIS_WAIT_REPLICAS: 0 });
    expect(defaults.WORKER_PARTITIONS).to.equal(undefined);
    expect(defaults.REDIS_CLUSTER_NODES).to.equal(undefined);
  });

  it('explains a partition list that is malformed or names partitions that do not exist', () => {
    expect(() => loadConfig({ WORKER_PARTITIONS: '0-2,x' })).to.throw(
      ConfigError,
      /"x" is not a partition[\s\S]*at WORKER_PARTITIONS/,
    );
    expect(() => loadConfig({ QUEUE_PARTITIONS: '4', WORKER_PARTITIONS: '2-5' })).to.throw(
      ConfigError,
      /partition 4, 5 does not exist: QUEUE_PARTITIONS=4 has partitions 0-3[\s\S]*at WORKER_PARTITIONS/,
    );
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-a' })).to.throw(ConfigError, /REDIS_CLUSTER_NODES/);
  });

  it('is documented: every variable has a row in the README configuration table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of CONFIG_VARIABLES) expect(readme, name).to.match(new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm'));
  });
});
