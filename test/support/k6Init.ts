import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * Runs a k6 script's init stage in Node, to see what it exports: the k6 modules it imports
 * resolve to stand-ins whose functions refuse to run (only k6 can publish or check), and
 * `__ENV` is the environment given. Only init code runs, so what comes back is what k6 reads
 * before a test starts: `options`, and the lifecycle functions it will call.
 */

/**
 * The stand-ins: a call to any k6 function that does I/O fails, naming it; `expectedStatuses`
 * and `setResponseCallback` (configuration, called at init) describe or accept it; metrics record their name.
 */
const K6_ONLY = 'const k6Only = (name) => () => { throw new Error(name + " runs in k6 only"); };';
const STAND_INS: Record<string, string> = {
  k6: `${K6_ONLY} export const check = k6Only('check'); export const fail = k6Only('fail'); export const sleep = k6Only('sleep'); export const group = k6Only('group');`,
  'k6/http': `${K6_ONLY} export default { get: k6Only('http.get'), post: k6Only('http.post'), request: k6Only('http.request'), batch: k6Only('http.batch'), expectedStatuses: (...statuses) => ({ statuses }), setResponseCallback: () => undefined };`,
  'k6/execution': 'export default {};',
  'k6/metrics': `class Metric { constructor(name, isTime) { this.name = name; this.isTime = Boolean(isTime); (globalThis.__k6Metrics ??= []).push(name); } add() { throw new Error('metric.add runs in k6 only'); } }
export class Counter extends Metric {} export class Rate extends Metric {} export class Trend extends Metric {} export class Gauge extends Metric {}`,
};

const HOOKS = `
let standIns = {};
export function initialize(data) { standIns = data; }
export async function resolve(specifier, context, next) {
  const source = standIns[specifier];
  if (source !== undefined) return { url: 'data:text/javascript,' + encodeURIComponent(source), shortCircuit: true };
  return next(specifier, context);
}`;

let registered = false;
let evaluation = 0;

/** What a k6 script exports, as k6 sees it after its init stage. */
export interface K6Exports {
  options?: {
    scenarios?: Record<string, Record<string, unknown>>;
    thresholds?: Record<string, unknown[]>;
    setupTimeout?: string;
    teardownTimeout?: string;
  };
  setup?: unknown;
  default?: unknown;
  teardown?: unknown;
}

/** Evaluates `file` afresh (a new module instance each call) with `__ENV` set to `env`. */
export async function k6Init(file: string, env: Record<string, string> = {}): Promise<K6Exports> {
  if (!registered) {
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: STAND_INS });
    registered = true;
  }
  const global = globalThis as { __ENV?: Record<string, string> };
  const previous = global.__ENV;
  global.__ENV = { ...env };
  try {
    // The script's own module is new each time; lib/ is shared, but reads __ENV only when called.
    return (await import(`${pathToFileURL(file).href}?init=${++evaluation}`)) as K6Exports;
  } finally {
    global.__ENV = previous;
  }
}
