import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';

/** Opens a store in a fresh node process and reports which drivers that process loaded. */
function driversLoadedFor(env: Record<string, string>): { sqlite: boolean; pg: boolean } {
  const script = `
    import { createRequire } from 'node:module';
    import { loadConfig } from '@aggregator/common';
    import { openStoreReader } from '@aggregator/store';
    await openStoreReader(loadConfig(${JSON.stringify(env)})).catch(() => {});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const has = (name) => loaded.some((path) => path.includes('/node_modules/' + name + '/'));
    process.stdout.write(JSON.stringify({ sqlite: has('better-sqlite3'), pg: has('pg') }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('store drivers', () => {
  it('loads only the driver of the configured store', () => {
    // Neither store exists: opening fails, after the adapter (and its driver) was imported.
    expect(driversLoadedFor({ SQLITE_PATH: '/nonexistent/aggregator.db' })).to.deep.equal({ sqlite: true, pg: false });
    expect(driversLoadedFor({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).to.deep.equal({
      sqlite: false,
      pg: true,
    });
  });
});
