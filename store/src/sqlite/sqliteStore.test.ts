import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { openSqliteReader, openSqliteWriter } from './sqliteStore.js';

/** What the SQLite adapter does with its file, beyond the contract every store passes. */
describe('SQLite adapter: its file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aggregator-sqlite-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const inspect = <T>(path: string, fn: (db: Database.Database) => T): T => {
    const db = new Database(path, { readonly: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  it('creates its directory and schema, in WAL mode, at the version of the last migration', async () => {
    const path = join(dir, 'a', 'b', 'store.db');
    const writer = await openSqliteWriter(path);
    await writer.close();
    inspect(path, (db) => {
      expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(db.pragma('user_version', { simple: true })).to.equal(SQLITE_MIGRATIONS.length);
    });
  });

  it('keeps the first store id when another writer opens the file', async () => {
    const path = join(dir, 'store.db');
    const writers = await Promise.all([openSqliteWriter(path), openSqliteWriter(path)]);
    const ids = await Promise.all(writers.map(async (w) => (await w.readCounters()).store_id));
    await Promise.all(writers.map((w) => w.close()));
    expect(ids[0]).to.be.a('string').and.equal(ids[1]);
    expect(inspect(path, (db) => db.prepare('SELECT count(*) FROM counters').pluck().get())).to.equal(1);
  });

  it('opens a reader only on a file a writer has created', async () => {
    const path = join(dir, 'store.db');
    let refused: unknown;
    await openSqliteReader(path).catch((e: unknown) => {
      refused = e;
    });
    expect(refused).to.have.property('code', 'SQLITE_CANTOPEN');
    await (await openSqliteWriter(path)).close();
    const reader = await openSqliteReader(path);
    try {
      expect((await reader.readCounters()).unique_processed).to.equal(0);
    } finally {
      await reader.close();
    }
  });

  it('refuses, as reader and as writer, a file a newer build has migrated', async () => {
    const path = join(dir, 'store.db');
    await (await openSqliteWriter(path)).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
    db.close();
    for (const open of [openSqliteReader, openSqliteWriter]) {
      let refused: unknown;
      await open(path).catch((e: unknown) => {
        refused = e;
      });
      expect(refused, open.name).to.have.property('code', 'STORE_SCHEMA_VERSION');
    }
  });
});
