import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import Mocha from 'mocha';
import { executable, findExecutable, isCi, requireToolWith, type Tool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { withTempDir } from './support/withStack.js';

/** A fake PATH directory holding an executable `name`, a plain file and a directory. */
function fakeBin(dir: string, name: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, name), 0o755);
  writeFileSync(join(bin, 'not-executable'), '');
  mkdirSync(join(bin, 'a-directory'));
  return bin;
}

/** A tool of a name of its own (so no other test has printed its problem yet). */
function fakeTool(): Tool {
  const name = `fake-${randomUUID().slice(0, 8)}`;
  return executable({
    name,
    candidates: [name],
    envVar: 'FAKE_TOOL_BIN',
    install: `Debian/Ubuntu: apt-get install ${name}`,
  });
}

interface SuiteRun {
  passes: number;
  pending: number;
  failures: string[];
  testRan: boolean;
  printed: string[];
}

/** Runs, in a mocha of its own, a suite of one test with `requireTool` as its `before` hook. */
async function runSuite(tool: Tool, env: NodeJS.ProcessEnv, title = 'needs a tool'): Promise<SuiteRun> {
  const printed: string[] = [];
  let testRan = false;
  const mocha = new Mocha({ reporter: Mocha.reporters.Base });
  const suite = Mocha.Suite.create(mocha.suite, title);
  suite.beforeAll(requireToolWith({ env, print: (line) => printed.push(line) }, tool));
  suite.addTest(
    new Mocha.Test('uses the tool', () => {
      testRan = true;
    }),
  );
  const failures: string[] = [];
  const runner = await new Promise<Mocha.Runner>((resolve) => {
    const r = mocha.run(() => resolve(r));
    r.on('fail', (_test, error: Error) => failures.push(error.message));
  });
  const stats = runner.stats ?? { passes: 0, pending: 0 };
  return { passes: stats.passes, pending: stats.pending, failures, testRan, printed };
}

describe('requireTool', () => {
  describe('findExecutable', () => {
    it('finds an executable file in the directories of PATH, and nothing else of that name', () =>
      withTempDir(async (dir) => {
        const bin = fakeBin(dir, 'some-tool');
        const env = { PATH: ['/nonexistent', bin].join(':') };
        expect(findExecutable('some-tool', env)).to.equal(join(bin, 'some-tool'));
        expect(findExecutable('not-executable', env)).to.equal(undefined);
        expect(findExecutable('a-directory', env)).to.equal(undefined);
        expect(findExecutable('some-tool', { PATH: '' })).to.equal(undefined);
        expect(findExecutable('some-tool', {})).to.equal(undefined);
        expect(findExecutable(join(bin, 'some-tool'), { PATH: '' })).to.equal(join(bin, 'some-tool'));
      }));

    it('looks only where the override variable points when it is set', () =>
      withTempDir(async (dir) => {
        const tool = fakeTool();
        const bin = fakeBin(dir, tool.name);
        expect(tool.problem({ PATH: bin })).to.equal(undefined);
        const wrong = tool.problem({ PATH: bin, FAKE_TOOL_BIN: join(dir, 'missing') });
        expect(wrong).to.contain(`FAKE_TOOL_BIN=${join(dir, 'missing')}`);
        expect(tool.problem({ PATH: '', FAKE_TOOL_BIN: join(bin, tool.name) })).to.equal(undefined);
      }));
  });

  it('says how to install redis-server on Debian and macOS when the PATH has none', () =>
    withTempDir(async (dir) => {
      expect(REDIS_SERVER.problem({ PATH: fakeBin(dir, 'redis-server') })).to.equal(undefined);
      const problem = REDIS_SERVER.problem({ PATH: join(dir, 'empty') });
      expect(problem).to.contain('redis-server was not found');
      expect(problem).to.contain('apt-get install redis-server');
      expect(problem).to.contain('brew install redis');
      expect(problem).to.contain('REDIS_SERVER_BIN');
    }));

  it('reads CI as set unless it is empty, 0 or false', () => {
    for (const ci of ['true', '1', 'yes', 'TRUE']) expect(isCi({ CI: ci }), ci).to.equal(true);
    for (const ci of [undefined, '', '0', 'false', 'False']) expect(isCi({ CI: ci }), String(ci)).to.equal(false);
  });

  describe('as the before hook of a suite', () => {
    it('runs the suite when the tool is on the PATH, in CI or not', () =>
      withTempDir(async (dir) => {
        const tool = fakeTool();
        const bin = fakeBin(dir, tool.name);
        for (const CI of [undefined, 'true']) {
          const run = await runSuite(tool, { PATH: bin, CI });
          expect(run, `CI=${CI}`).to.include({ passes: 1, pending: 0, testRan: true });
          expect(run.printed).to.deep.equal([]);
        }
      }));

    it('skips the suite locally, printing what is missing and how to install it, once per problem', async () => {
      const tool = fakeTool();
      const first = await runSuite(tool, { PATH: '/nonexistent' }, 'first suite');
      expect(first).to.include({ passes: 0, pending: 1, testRan: false });
      expect(first.failures).to.deep.equal([]);
      expect(first.printed).to.have.length(1);
      expect(first.printed[0]).to.contain('skipped "first suite": needs').and.contain(tool.name);
      expect(first.printed[0]).to.contain(`apt-get install ${tool.name}`).and.contain('With CI set this fails');

      const second = await runSuite(tool, { PATH: '/nonexistent' }, 'second suite');
      expect(second).to.include({ pending: 1, testRan: false });
      expect(second.printed).to.deep.equal([`      skipped "second suite": needs ${tool.name} (see above).`]);
    });

    it('fails the suite in CI, naming what is missing and how to install it', async () => {
      const tool = fakeTool();
      const run = await runSuite(tool, { PATH: '/nonexistent', CI: 'true' }, 'ci suite');
      expect(run).to.include({ passes: 0, testRan: false });
      expect(run.failures).to.have.length(1);
      expect(run.failures[0]).to.contain('"ci suite" cannot run').and.contain(`${tool.name} was not found`);
      expect(run.failures[0]).to.contain(`apt-get install ${tool.name}`);
      expect(run.printed).to.deep.equal([]);
    });
  });
});
