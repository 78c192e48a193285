import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

/**
 * The k6 scripts run in k6's own JavaScript runtime, not in Node, so they are never imported
 * here: these tests type-check them against @types/k6 and read their text.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const k6Dir = join(root, 'load', 'k6');
const SCRIPTS = ['single.js', 'batch.js', 'duplicates.js', 'ramping.js', 'soak.js'];

function modules(): string[] {
  const inDir = (dir: string) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.js'))
      .map((name) => join(dir, name));
  return [...inDir(k6Dir), ...inDir(join(k6Dir, 'lib'))];
}

function read(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Module specifiers of static imports, re-exports and `import()` (JSDoc type imports too). */
function specifiers(source: string): string[] {
  const pattern = /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;
  return [...source.matchAll(pattern)].map((m) => m[1] ?? m[2] ?? '');
}

function tsc(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(join(root, 'node_modules', '.bin', 'tsc'), args, { cwd: root }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('k6 load scripts (load/k6)', () => {
  it('type-check with tsc -p load/k6 against the k6 types alone', async function () {
    this.timeout(120_000);
    const config = JSON.parse(read(join(k6Dir, 'tsconfig.json')));
    expect(config.compilerOptions).to.include({ allowJs: true, checkJs: true, noEmit: true, strict: true });
    expect(config.compilerOptions.types).to.deep.equal(['k6']);
    const { code, output } = await tsc(['-p', relative(root, k6Dir)]);
    expect(output).to.equal('');
    expect(code).to.equal(0);
  });

  for (const script of SCRIPTS) {
    it(`${script} exports options with thresholds, setup, a default function and teardown`, () => {
      const source = read(join(k6Dir, script));
      const options = /^export const options\b[^=]*=\s*\{([\s\S]*?)^\};/m.exec(source)?.[1];
      expect(options, 'export const options = {…};').to.be.a('string');
      expect(options).to.match(/^\s*scenarios:/m);
      expect(options).to.match(/^\s*thresholds:/m);
      expect(source).to.match(/^export function setup\(\)/m);
      expect(source).to.match(/^export default function\s*\(/m);
      expect(source).to.match(/^export function teardown\(/m);
      expect(source, 'the header documents the environment').to.match(/^\/\*\*[\s\S]*?\bEnvironment\b[\s\S]*?\*\//);
    });
  }

  it('import nothing but k6 modules and each other: no Node builtins, require, npm or remote code', () => {
    const builtins = new Set(builtinModules);
    const files = modules();
    expect(files.map((f) => relative(k6Dir, f))).to.include.members([...SCRIPTS, 'lib/index.js']);
    for (const file of files) {
      const source = read(file);
      const name = relative(root, file);
      expect(source, name).not.to.match(/\brequire\s*\(/);
      expect(source, name).not.to.match(/['"]node:/);
      for (const spec of specifiers(source)) {
        expect(builtins.has(spec), `${name} imports the Node builtin ${spec}`).to.equal(false);
        expect(spec, `${name} imports ${spec}`).to.match(/^(\.\.?\/.*\.js|k6|k6\/[a-z/-]+)$/);
      }
    }
  });

  it('are all described in load/k6/README.md', () => {
    const readme = read(join(k6Dir, 'README.md'));
    for (const script of SCRIPTS) expect(readme).to.include(`\`${script}\``);
  });
});
