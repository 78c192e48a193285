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

  it('is documented: every variable has a row in the README configuration table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of CONFIG_VARIABLES) expect(readme, name).to.match(new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm'));
  });
});
