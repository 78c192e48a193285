import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type K6Exports, k6Init } from './support/k6Init.js';

/**
 * The k6 scripts run in k6's own JavaScript runtime. These tests type-check them against
 * @types/k6 and run their init stage in Node (support/k6Init.ts) to check what k6 would read:
 * the options each exports, with the defaults its header documents, and its life cycle.
 * test/k6run.test.ts runs them under a real k6 when K6_BIN is set.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const k6Dir = join(root, 'load', 'k6');
const SCRIPTS = ['single.js', 'batch.js', 'duplicates.js', 'ramping.js', 'soak.js'];

/** The thresholds every script has (lib/options.js), the exact counter balances among them. */
const SHARED_THRESHOLDS = [
  'http_req_failed',
  'http_req_duration{name:publish}',
  'publish_gave_up',
  'publish_throttled',
  'counters_verified',
  'checks',
  'verify_acked_fresh_minus_stored',
  'verify_sent_fresh_minus_stored',
  'verify_acked_minus_received',
  'verify_sent_minus_received',
];

/** Scenario variables of the headers, and the k6 scenario field each sets. */
const SCENARIO_FIELDS: Record<string, string> = {
  VUS: 'vus',
  ITERATIONS: 'iterations',
  MAX_DURATION: 'maxDuration',
  RATE: 'rate',
  DURATION: 'duration',
  START_RATE: 'startRate',
  TIME_UNIT: 'timeUnit',
  PRE_ALLOCATED_VUS: 'preAllocatedVUs',
  MAX_VUS: 'maxVUs',
};

/** `NAME [default]` pairs of a script's header, up to the variables common to all scripts. */
function documentedDefaults(source: string): Record<string, string> {
  const header = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  const own = header.slice(header.indexOf('Environment'), header.indexOf('Common to all scripts'));
  return Object.fromEntries([...own.matchAll(/\b([A-Z][A-Z0-9_]+) \[([^\]]*)\]/g)].map((m) => [m[1], m[2]]));
}

/** The p(95) and p(99) bounds of the publish latency threshold, in ms. */
function latencyBounds(exported: K6Exports): (string | undefined)[] {
  const bounds = (exported.options?.thresholds?.['http_req_duration{name:publish}'] ?? []).map(String);
  return ['p(95)', 'p(99)'].map((p) => bounds.find((b) => b.startsWith(p))?.slice(p.length + 1));
}

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).to.be.an('error');
  expect((outcome as Error).message).to.match(message);
}

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
    const name = script.replace(/\.js$/, '');
    const file = join(k6Dir, script);

    it(`${script} gives k6 one scenario, the shared thresholds and the whole run life cycle`, async () => {
      const exported = await k6Init(file);
      for (const fn of ['setup', 'default', 'teardown'] as const) expect(exported[fn], fn).to.be.a('function');
      const { options } = exported;
      expect(Object.keys(options?.scenarios ?? {})).to.deep.equal([name]);
      // An iteration still retrying at the end may finish: 2 × (RETRY_BUDGET + REQUEST_TIMEOUT) + 5 s.
      expect(options?.scenarios?.[name]?.gracefulStop).to.equal('85s');
      expect(options?.thresholds).to.include.keys(SHARED_THRESHOLDS);
      expect(options).to.include({ setupTimeout: '180s', teardownTimeout: '10m' });
      // The life cycle belongs to k6: its functions are not run here.
      expect(() => (exported.setup as () => unknown)()).to.throw(/runs in k6 only/);
    });

    it(`${script} starts with the defaults its header documents, and takes each from the environment`, async () => {
      const documented = documentedDefaults(read(file));
      const scenarioVars = Object.keys(documented).filter((v) => v in SCENARIO_FIELDS);
      expect(scenarioVars, 'the header documents the scenario variables').to.not.deep.equal([]);
      const defaults = await k6Init(file);
      const scenario = defaults.options?.scenarios?.[name] ?? {};
      for (const variable of scenarioVars) {
        expect(String(scenario[SCENARIO_FIELDS[variable] ?? '']), variable).to.equal(documented[variable]);
      }
      expect(latencyBounds(defaults), 'P95_MS, P99_MS').to.deep.equal([documented.P95_MS, documented.P99_MS]);

      const overrides = Object.fromEntries(scenarioVars.map((v) => [v, /DURATION|TIME_UNIT/.test(v) ? '7m' : '7']));
      const changed = await k6Init(file, { ...overrides, P95_MS: '123', P99_MS: '456' });
      const changedScenario = changed.options?.scenarios?.[name] ?? {};
      for (const variable of scenarioVars) {
        expect(String(changedScenario[SCENARIO_FIELDS[variable] ?? '']), variable).to.equal(overrides[variable]);
      }
      expect(latencyBounds(changed)).to.deep.equal(['123', '456']);
    });

    it(`${script} refuses a bad value before the run starts, naming the variable`, async () => {
      const variable = Object.keys(documentedDefaults(read(file))).find((v) => SCENARIO_FIELDS[v] !== undefined);
      await expectRejection(k6Init(file, { [variable ?? '']: 'lots' }), new RegExp(`\\b${variable}="lots" is invalid`));
    });
  }

  it('ramping.js and soak.js bound dropped iterations; soak.js stops early on failures', async () => {
    for (const script of ['ramping.js', 'soak.js']) {
      const { options } = await k6Init(join(k6Dir, script), { MAX_DROPPED_ITERATIONS: '3' });
      expect(options?.thresholds?.dropped_iterations, script).to.deep.equal(['count<=3']);
    }
    const soak = await k6Init(join(k6Dir, 'soak.js'));
    expect(soak.options?.thresholds?.http_req_failed).to.deep.equal([
      { threshold: 'rate<0.001', abortOnFail: true, delayAbortEval: '1m' },
    ]);
    const ramping = await k6Init(join(k6Dir, 'ramping.js'), { STAGES: '10s:5,20s:0' });
    expect(ramping.options?.scenarios?.ramping?.stages).to.deep.equal([
      { duration: '10s', target: 5 },
      { duration: '20s', target: 0 },
    ]);
  });

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
