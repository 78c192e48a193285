import { freePort, ManagedChild, REPO_ROOT } from '@aggregator/load';
import { expect } from 'chai';
import { makeEvent, withTempDir } from './support/withStack.js';

/** `npm start`'s launcher (load/dist/startCli.js) as a person runs it, on a data directory of the test's own. */

const CLI = `${REPO_ROOT}load/dist/startCli.js`;
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
  const { code } = await cli.exited;
  expect(code, cli.tail()).to.equal(0);
}

describe('npm start (the local stack launcher)', function () {
  this.timeout(90_000);

  it("respects the user's LOG_LEVEL: with warn the stack starts and no process logs an info line", () =>
    withTempDir(async (dir) => {
      const port = await freePort();
      const cli = launch(['--port', String(port), '--data', dir, '--workers', '2'], { LOG_LEVEL: 'warn' });
      try {
        await cli.waitFor(UP, 60_000);
        const res = await fetch(`http://127.0.0.1:${port}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(makeEvent()),
        });
        expect(res.status).to.equal(200);
      } finally {
        await stopLaunch(cli);
      }
      const services = cli.lines.filter((l) => /^\[(api|worker-\d+)\] /.test(l));
      // pino levels: 10 trace, 20 debug, 30 info.
      expect(services.filter((l) => /"level":(10|20|30)\b/.test(l))).to.deep.equal([]);
      // Redis marks a notice with `*`: none at warning level.
      expect(cli.lines.filter((l) => /^\[redis:\d+\] \d+:[A-Z] .* \* /.test(l))).to.deep.equal([]);
    }));
});
