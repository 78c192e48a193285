import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ManagedChild, REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { readRepoFile } from './support/deployFiles.js';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { withTempDir } from './support/withStack.js';

/** The ```ts blocks of client/README.md, by the file name of their first line (`// producer.ts`). */
function readmeExamples(): Map<string, string> {
  const examples = new Map<string, string>();
  for (const [, code = ''] of readRepoFile('client/README.md').matchAll(/```ts\n([\s\S]*?)```/g)) {
    const name = /^\/\/ (\S+\.ts)\n/.exec(code)?.[1];
    if (name) examples.set(name, code);
  }
  return examples;
}

/**
 * Writes an example as a module of its own (`.mts`: top-level await) that imports the built client
 * instead of the package name, and runs it with tsx, as a user would run the copy they pasted.
 */
function startExample(dir: string, code: string, name: string, env: Record<string, string>): ManagedChild {
  const client = pathToFileURL(join(REPO_ROOT, 'client/dist/index.js')).href;
  const file = join(dir, name.replace(/\.ts$/, '.mts'));
  writeFileSync(file, code.replaceAll("from '@aggregator/client'", `from '${client}'`));
  return new ManagedChild({
    name: `readme-${name}`,
    command: process.execPath,
    args: ['--import', 'tsx', file],
    env: { ...process.env, ...env },
    cwd: REPO_ROOT,
  });
}

describe('client/README.md examples', function () {
  this.timeout(60_000);
  before(requireTool(REDIS_SERVER));

  it('has a producer, a consumer and a history reader', () => {
    expect([...readmeExamples().keys()]).to.deep.equal(['producer.ts', 'consumer.ts', 'history.ts']);
  });

  it('run as written against the service: the producer publishes, the consumer streams, the reader pages', () =>
    withTempDir((dir) =>
      withProcessStack({}, async (stack) => {
        const examples = readmeExamples();
        const env = { AGGREGATOR_URL: stack.apiUrl };
        const run = (name: string) => startExample(dir, examples.get(name) ?? '', name, env);

        const producer = run('producer.ts');
        expect((await producer.exited).code, producer.tail()).to.equal(0);
        expect(producer.lines).to.include('accepted 100 of 100');

        const consumer = run('consumer.ts');
        try {
          const lines = () => consumer.lines.filter((l) => /^\d+ shop\.orders\.created \S+$/.test(l));
          await waitUntil(() => lines().length === 100, { what: '100 events streamed', timeoutMs: 30_000 });
          const seqs = lines().map((l) => Number(l.split(' ')[0]));
          expect(seqs).to.deep.equal([...new Set(seqs)].sort((a, b) => a - b));
          consumer.process.kill('SIGINT');
          expect((await consumer.exited).code, consumer.tail()).to.equal(0);
        } finally {
          await consumer.kill();
        }

        const history = run('history.ts');
        expect((await history.exited).code, history.tail()).to.equal(0);
        expect(history.lines.at(-1)).to.match(/^read 100 events, up to seq \d+$/);
      }),
    ));
});
