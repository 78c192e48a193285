import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { commandLineOf, isRunning, waitForExit } from './processInfo.js';

/**
 * One local stack per data directory. Two stacks on one directory would run two redis-servers on
 * one AOF and two sets of workers on one SQLite file, so a stack takes `<data>/stack.lock` before
 * it touches anything there, and a second one is refused, naming the holder's pid.
 *
 * The lock is a file created exclusively (link(2) of a complete temp file, so nobody ever reads
 * it half-written) that holds the launcher's pid and command line and, as they start, those of
 * the processes it runs. A lock whose launcher no longer runs (it crashed, or was SIGKILLed) is
 * stale: the next stack waits for that launcher's services to stop (they stop by themselves when
 * their launcher goes), stops its redis-server with SIGTERM (Redis then writes its AOF), removes
 * the lock and takes it. A pid that now runs another program counts as gone.
 *
 * Not proper-lockfile: its staleness is an mtime that the holder must keep touching, so after a
 * crash the directory stays locked for the stale period, and it knows nothing of the holder's
 * processes, which are what must not run twice.
 */

const LOCK_FILE = 'stack.lock';
/** How long the services of a dead launcher get to stop by themselves before SIGTERM. */
const SERVICE_GRACE_MS = 15_000;
/** How long any process of a dead launcher gets after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 15_000;

/** A process the lock holder started, recorded so that a later stack can stop it if it outlived the holder. */
export interface LockedProcess {
  name: string;
  pid: number;
  command?: string;
  /** It stops by itself when the launcher dies (node services over IPC); redis-server does not. */
  stopsWithLauncher: boolean;
}

interface LockRecord {
  pid: number;
  command?: string;
  host: string;
  startedAt: string;
  processes: LockedProcess[];
}

/** Another stack holds the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DataDirLock {
  readonly path: string;
  /** Adds a process the stack started, so that a stack after a crash can stop it. */
  record(process: Omit<LockedProcess, 'command'>): void;
  /** Removes the lock if it is still ours; idempotent. */
  release(): void;
}

/**
 * Takes the lock of `dir` (created if missing), or throws DataDirLockedError naming the stack
 * that holds it. `note` is told about a stale lock being cleared.
 */
export async function lockDataDir(dir: string, note: (line: string) => void = () => {}): Promise<DataDirLock> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const record: LockRecord = {
    pid: process.pid,
    command: commandLineOf(process.pid),
    host: hostname(),
    startedAt: new Date().toISOString(),
    processes: [],
  };
  for (let attempt = 0; ; attempt++) {
    if (createExclusively(path, JSON.stringify(record))) break;
    const existing = readLock(path);
    if (existing === undefined) continue; // released meanwhile
    if (attempt >= 2 || holds(existing)) throw lockedError(dir, existing);
    await stopLeftovers(existing, note);
    // Remove it only if it is still that record (another stack may have cleared it and taken it).
    const now = readLock(path);
    if (now?.pid === existing.pid && now.startedAt === existing.startedAt) rmSync(path, { force: true });
    note(`cleared the lock of stack pid ${existing.pid}, which is no longer running`);
  }
  let released = false;
  return {
    path,
    record(child) {
      if (released) return;
      record.processes.push({ ...child, command: commandLineOf(child.pid) });
      // Replace atomically: a reader sees the old record or the new one, never half of one.
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(record));
      renameSync(temp, path);
    },
    release() {
      if (released) return;
      released = true;
      if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

/** Creates `path` holding `content` if it does not exist; false if it does. */
function createExclusively(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content);
  try {
    linkSync(temp, path);
    return true;
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(temp, { force: true });
  }
}

function readLock(path: string): LockRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as LockRecord;
  } catch {
    throw new DataDirLockedError(
      `${path} is not a lock this launcher wrote; if no stack runs on this directory, delete the file`,
    );
  }
}

/** Whether the stack of `lock` may still run: its launcher runs, or it is on another host (no way to tell). */
function holds(lock: LockRecord): boolean {
  return lock.host !== hostname() || isRunning(lock.pid, lock.command);
}

function lockedError(dir: string, lock: LockRecord): DataDirLockedError {
  const where = lock.host === hostname() ? '' : ` on host ${lock.host}`;
  return new DataDirLockedError(
    `the data directory ${dir} is in use by another stack (pid ${lock.pid}${where}, started ${lock.startedAt}); ` +
      'stop that one first (Ctrl-C in its terminal), or pass --data with another directory',
  );
}

/** Stops what a dead launcher left running: its services first, then its redis-server. */
async function stopLeftovers(lock: LockRecord, note: (line: string) => void): Promise<void> {
  const running = (p: LockedProcess) => isRunning(p.pid, p.command);
  const services = lock.processes.filter((p) => p.stopsWithLauncher && running(p));
  await Promise.all(services.map((p) => waitForExit(p.pid, p.command, SERVICE_GRACE_MS)));
  for (const p of [...lock.processes].reverse()) {
    if (!running(p)) continue;
    note(`stopping ${p.name} (pid ${p.pid}), left running by stack pid ${lock.pid}`);
    process.kill(p.pid, 'SIGTERM');
    if (await waitForExit(p.pid, p.command, TERM_GRACE_MS)) continue;
    process.kill(p.pid, 'SIGKILL');
    if (!(await waitForExit(p.pid, p.command, TERM_GRACE_MS))) {
      throw new DataDirLockedError(`${p.name} (pid ${p.pid}) of the crashed stack pid ${lock.pid} does not stop`);
    }
  }
}
