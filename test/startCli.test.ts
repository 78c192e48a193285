import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent, withTempDir } from './support/withStack.js';

/** `npm start`'s launcher (stack/dist/startCli.js) as a person runs it, on a data directory of the test's own. */

const CLI = `${REPO_ROOT}stack/dist/startCli.js`;
const UP = /^aggregator is up on /;

/** Starts the launcher; `env` replaces the variables it names (undefined removes one). */
function launch(args: string[], env: Record<string, string | undefined> = {}): ManagedChild {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['LOG_LEVEL', 'HOST', 'PORT', 'REDIS_URL', 'API_TOKEN', 'READ_TOKEN']) delete merged[name];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return new ManagedChild({ name: 'start-cli', command: process.execPath, args: [CLI, ...args], env: merged });
}

/** Stops the launcher as Ctrl-C does, and checks that it stopped cleanly. */
async function stopLaunch(cli: ManagedChild): Promise<void> {
  if (!cli.running) return;
  cli.process.kill('SIGINT');
  const { code, signal } = await cli.exited;
  expect({ code, signal }, cli.tail()).to.deep.equal({ code: 0, signal: null });
}

/**
 * Runs the launcher until it is up, calls `fn` with its banner line, then stops it as Ctrl-C
 * does (checking that it stopped cleanly); returns the stopped launcher, whose lines are all kept.
 */
async function withLaunch(
  args: string[],
  env: Record<string, string | undefined>,
  fn: (banner: string, cli: ManagedChild) => Promise<void>,
): Promise<ManagedChild> {
  const cli = launch(args, env);
  try {
    await fn(await cli.waitFor(UP, 60_000), cli);
  } finally {
    await stopLaunch(cli);
  }
  return cli;
}

const warnings = (cli: ManagedChild) => cli.lines.filter((l) => l.startsWith('warning:'));

interface LockFile {
  pid: number;
  processes: Array<{ name: string; pid: number }>;
}

function readLockFile(dir: string): LockFile {
  return JSON.parse(readFileSync(join(dir, 'stack.lock'), 'utf8')) as LockFile;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its new parent) has an empty command line.
  return !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
}

/** Every file under `dir` with the SHA-256 of its content. */
function snapshot(dir: string): Record<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(
    files.map((e) => {
      const path = join(e.parentPath, e.name);
      return [path, createHash('sha256').update(readFileSync(path)).digest('hex')];
    }),
  );
}

/** The IPv4 addresses the kernel shows listening on `port` (Linux's /proc/net/tcp). */
function listeningOn(port: number): string[] {
  const rows = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1);
  return rows
    .map((row) => row.trim().split(/\s+/))
    .filter(([, local, , state]) => state === '0A' && Number.parseInt(local?.split(':')[1] ?? '', 16) === port)
    .map(([, local]) => {
      const hex = local?.split(':')[0] ?? '';
      // Four bytes in host (little-endian) order.
      return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
    });
}

describe('npm start (the local stack launcher)', function () {
  this.timeout(120_000);

  it("refuses a second stack on the same data directory without touching the first one's Redis files", () =>
    withTempDir(async (dir) => {
      const first = launch(['--port', String(await freePort()), '--data', dir]);
      const frozen: number[] = [];
      try {
        await first.waitFor(UP, 60_000);
        const lock = readLockFile(dir);
        expect(lock.pid).to.equal(first.pid);
        expect(lock.processes.map((p) => p.name)).to.deep.equal(['redis-server', 'worker-0', 'api']);
        // Freeze the first stack's services, so that its Redis gets no more writes and its AOF
        // files change only if someone else writes them; wait until they are still.
        for (const p of lock.processes.filter((p) => p.name !== 'redis-server')) {
          process.kill(p.pid, 'SIGSTOP');
          frozen.push(p.pid);
        }
        let previous: string | undefined;
        const before = await waitUntil(
          () => {
            const now = snapshot(join(dir, 'redis'));
            const still = previous === JSON.stringify(now);
            previous = JSON.stringify(now);
            return still && Object.keys(now).length > 0 && now;
          },
          { what: 'the AOF files to be still', intervalMs: 300 },
        );

        const second = launch(['--port', String(await freePort()), '--data', dir]);
        const { code } = await second.exited;
        expect(code, second.tail()).to.equal(1);
        expect(second.tail()).to.include(`in use by another stack (pid ${first.pid}`).and.include(dir);
        expect(
          second.lines.filter((l) => l.startsWith('[')),
          'no process started',
        ).to.deep.equal([]);
        expect(snapshot(join(dir, 'redis'))).to.deep.equal(before);
      } finally {
        for (const pid of frozen) process.kill(pid, 'SIGCONT');
        await stopLaunch(first);
      }
      expect(existsSync(join(dir, 'stack.lock')), 'lock released on a clean stop').to.equal(false);

      await withLaunch(['--port', String(await freePort()), '--data', dir], {}, async () => {});
    }));

  it('starts on a data directory whose stack was SIGKILLed, stopping what that stack left running', () =>
    withTempDir(async (dir) => {
      const crashed = launch(['--port', String(await freePort()), '--data', dir]);
      await crashed.waitFor(UP, 60_000);
      const leftovers = readLockFile(dir).processes;
      await crashed.kill();
      try {
        await withLaunch(['--port', String(await freePort()), '--data', dir], {}, async (_, next) => {
          expect(next.lines).to.include(`cleared the lock of stack pid ${crashed.pid}, which is no longer running`);
          // The services stopped with their launcher; its redis-server was stopped by the next one.
          const redis = leftovers.find((p) => p.name === 'redis-server');
          expect(next.lines).to.include(
            `stopping redis-server (pid ${redis?.pid}), left running by stack pid ${crashed.pid}`,
          );
          expect(leftovers.filter((p) => alive(p.pid))).to.deep.equal([]);
          expect(readLockFile(dir).pid).to.equal(next.pid);
        });
      } finally {
        for (const p of leftovers) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
      }
    }));

  it('listens on loopback by default, and says so', () =>
    withTempDir(async (dir) => {
      const port = await freePort();
      const cli = await withLaunch(['--port', String(port), '--data', dir], {}, async (banner) => {
        expect(banner).to.include(`up on http://127.0.0.1:${port} (listening on 127.0.0.1:${port}, loopback only;`);
        expect(listeningOn(port)).to.deep.equal(['127.0.0.1']);
      });
      expect(warnings(cli)).to.deep.equal([]);
    }));

  it('listens on every interface only when asked, and warns while API_TOKEN or READ_TOKEN is missing', () =>
    withTempDir(async (dir) => {
      const port = await freePort();
      const everywhere = `listening on 0.0.0.0:${port}, every interface;`;
      await withLaunch(['--port', String(port), '--data', dir, '--host', '0.0.0.0'], {}, async (banner, cli) => {
        expect(banner).to.include(`up on http://127.0.0.1:${port} (${everywhere}`);
        expect(listeningOn(port)).to.deep.equal(['0.0.0.0']);
        await cli.waitFor(
          new RegExp(
            `^warning: the API listens on 0\\.0\\.0\\.0:${port} \\(every interface\\) and API_TOKEN and READ_TOKEN are not set`,
          ),
        );
      });
      // HOST does the same as --host; with both tokens there is nothing to warn about.
      const token = 'a-token-of-16-characters';
      const env = { HOST: '0.0.0.0', API_TOKEN: token, READ_TOKEN: token };
      const guarded = await withLaunch(['--port', String(port), '--data', dir], env, async (banner) => {
        expect(banner).to.include(everywhere);
        expect(listeningOn(port)).to.deep.equal(['0.0.0.0']);
      });
      expect(warnings(guarded)).to.deep.equal([]);
    }));

  it("respects the user's LOG_LEVEL: with warn the stack starts and no process logs an info line", () =>
    withTempDir(async (dir) => {
      const port = await freePort();
      const args = ['--port', String(port), '--data', dir, '--workers', '2'];
      const cli = await withLaunch(args, { LOG_LEVEL: 'warn' }, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(makeEvent()),
        });
        expect(res.status).to.equal(200);
      });
      const services = cli.lines.filter((l) => /^\[(api|worker-\d+)\] /.test(l));
      // pino levels: 10 trace, 20 debug, 30 info.
      expect(services.filter((l) => /"level":(10|20|30)\b/.test(l))).to.deep.equal([]);
      // Redis marks a notice with `*`: none at warning level.
      expect(cli.lines.filter((l) => /^\[redis:\d+\] \d+:[A-Z] .* \* /.test(l))).to.deep.equal([]);
    }));
});
