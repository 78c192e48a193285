import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedChild } from '@aggregator/stack';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { MOUNT_TMPFS, REDIS_SERVER } from './support/tools.js';
import { makeEvent } from './support/withStack.js';

describe('store failures (processes)', function () {
  this.timeout(60_000);
  before(requireTool(REDIS_SERVER));

  it('retries a job with backoff while SQLite is locked by another writer, and loses nothing', () =>
    withProcessStack({ env: { SQLITE_BUSY_TIMEOUT_MS: '100', JOB_BACKOFF_MS: '100' } }, async (stack) => {
      const [worker] = stack.workers as [ManagedChild];
      const blocker = new Database(stack.env.SQLITE_PATH as string);
      try {
        blocker.exec('BEGIN EXCLUSIVE');
        const events = [makeEvent(), makeEvent()];
        expect((await stack.publish([...events, events[0]])).status).to.equal(200);
        await worker.waitFor(/job failed: the SQLite database is locked by another writer; it will be retried/);
        blocker.exec('ROLLBACK');
        const stats = await stack.settle(3);
        expect(stats).to.include({ unique_processed: 2, duplicate_dropped: 1 });
        expect(stats.queue.failed).to.equal(0);
      } finally {
        blocker.close();
      }
    }));

  describe('on a disk that fills up (a tmpfs it mounts)', () => {
    before(requireTool(MOUNT_TMPFS));

    it('retries a job while the disk holding SQLite is full, and stores it once there is room', () =>
      withProcessStack({ workers: 0, env: { JOB_BACKOFF_MS: '100' } }, async (stack) => {
        // A 1 MiB tmpfs holds the database; remounting it larger is "freeing disk space".
        const mountPoint = join(stack.dir, 'small-disk');
        mkdirSync(mountPoint);
        try {
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
        } catch (e) {
          throw new Error(`this test needs root to mount a tmpfs (as CI has): ${(e as Error).message}`);
        }
        try {
          const onSmallDisk = { SQLITE_PATH: join(mountPoint, 'aggregator.db') };
          const worker = await stack.startWorker(onSmallDisk);
          // The API reads the same store (/stats answers 503 while it cannot read its store).
          await stack.restartApi(0, onSmallDisk);
          const big = Array.from({ length: 20 }, () => makeEvent({ payload: { blob: 'x'.repeat(100_000) } }));
          expect((await stack.publish(big)).status).to.equal(200);
          await worker.waitFor(/job failed: the disk holding the SQLite database is full; it will be retried/);
          execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
          const stats = await stack.settle(20);
          expect(stats).to.include({ unique_processed: 20, duplicate_dropped: 0 });
          await worker.stop();
        } finally {
          await Promise.all(stack.workers.map((w) => w.stop()));
          execFileSync('umount', ['-l', mountPoint]);
        }
      }));
  });
});
