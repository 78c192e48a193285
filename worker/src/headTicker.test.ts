import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Event, loadConfig } from '@aggregator/common';
import { applyBatch, openStoreWriter } from '@aggregator/store';
import { expect } from 'chai';
import { HeadTicker } from './headTicker.js';

const event = (id: string): Event =>
  ({ topic: 't', event_id: id, timestamp: '2025-01-31T12:00:00Z', source: 's', payload: {} }) as Event;

/** Resolves once `check` holds, polling every few ms (fails the test after 5 s). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('HeadTicker', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aggregator-head-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('announces each new visible head once, and nothing when it has not moved', async () => {
    const store = await openStoreWriter(loadConfig({ SQLITE_PATH: join(dir, 'db.sqlite') }));
    const announced: number[] = [];
    const ticker = new HeadTicker(
      store,
      (head) => announced.push(head),
      createLogger({ level: 'silent', service: 'worker', replica: 'test' }),
    );
    try {
      await applyBatch(store, 'j1', [event('1'), event('2')]);
      ticker.poke();
      await until(() => announced.length === 1);
      // Pokes while nothing new is stored announce nothing more.
      ticker.poke();
      ticker.poke();
      await applyBatch(store, 'j2', [event('2'), event('3')]);
      ticker.poke();
      await until(() => announced.at(-1) === 3);
      expect(announced).to.deep.equal([2, 3]);
    } finally {
      ticker.stop();
      await store.close();
    }
  });
});
