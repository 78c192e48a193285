import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Something a suite needs from the machine beyond Node: a binary (redis-server, nginx, Chromium)
 * or a privilege (root, to mount a tmpfs). The full suite needs them all; the unit tier none.
 */
export interface Tool {
  /** How a reader names it: `redis-server`, `Chromium`, `root (CAP_SYS_ADMIN)`. */
  readonly name: string;
  /** Undefined when the tool is there; else what is missing and how to install it. */
  problem(env: NodeJS.ProcessEnv): string | undefined;
}

/** A tool that is an executable file; `find` gives its path. */
export interface Executable extends Tool {
  find(env: NodeJS.ProcessEnv): string | undefined;
}

/** True when `path` is a regular file this process may execute. */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The path of `command`: itself when absolute, else the first executable of that name in the
 * directories of `env.PATH`. Looks at files only, so checking for a tool starts no process.
 */
export function findExecutable(command: string, env: NodeJS.ProcessEnv): string | undefined {
  if (isAbsolute(command)) return isExecutable(command) ? command : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, command);
    if (isExecutable(path)) return path;
  }
  return undefined;
}

/**
 * An executable found through `envVar` when that is set (then only there), else as the first of
 * `candidates` (names looked up on the PATH, or absolute paths) that exists.
 */
export function executable(options: {
  name: string;
  candidates: readonly string[];
  envVar: string;
  /** How to install it, e.g. `Debian/Ubuntu: apt-get install nginx; macOS: brew install nginx`. */
  install: string;
}): Executable {
  const { name, candidates, envVar, install } = options;
  const find = (env: NodeJS.ProcessEnv) => {
    const override = env[envVar];
    if (override) return findExecutable(override, env);
    for (const candidate of candidates) {
      const found = findExecutable(candidate, env);
      if (found) return found;
    }
    return undefined;
  };
  return {
    name,
    find,
    problem(env) {
      if (find(env)) return undefined;
      const override = env[envVar];
      if (override)
        return `${name} was not found at ${envVar}=${override}. Install it (${install}) or correct ${envVar}.`;
      const names = candidates.filter((c) => !isAbsolute(c));
      const paths = candidates.filter((c) => isAbsolute(c));
      const places = [`${names.join(', ')} on the PATH`, ...paths].join(', ');
      return `${name} was not found (looked for ${places}). Install it (${install}), or set ${envVar} to the binary.`;
    },
  };
}

/** True when the run is in CI: `CI` is set to anything but an empty string, `0` or `false`. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

export interface CheckOptions {
  env?: NodeJS.ProcessEnv;
  /** Where a skip is explained (once per distinct problem); `console.warn` by default. */
  print?: (line: string) => void;
}

const printed = new Set<string>();

/**
 * Whether every one of `tools` is there for `what` (a suite, or "the suites that need Redis").
 * When one is missing, throws in CI, where a skipped suite would hide a hole in the run; locally
 * prints what is missing and how to install it, and returns false so the caller can skip.
 */
export function toolsPresent(tools: readonly Tool[], what: string, options: CheckOptions = {}): boolean {
  const env = options.env ?? process.env;
  const missing = tools.flatMap((tool) => {
    const problem = tool.problem(env);
    return problem === undefined ? [] : [{ name: tool.name, problem }];
  });
  if (missing.length === 0) return true;
  const problems = missing.map((m) => m.problem);
  if (isCi(env)) {
    throw new Error(`${what} cannot run: ${problems.join(' ')} (CI is set, so a missing tool fails the run.)`);
  }
  const print = options.print ?? ((line: string) => console.warn(line));
  const fresh = problems.filter((p) => !printed.has(p));
  for (const p of fresh) printed.add(p);
  print(
    `      skipped ${what}: needs ${missing.map((m) => m.name).join(' and ')}` +
      (fresh.length > 0 ? `. ${fresh.join(' ')} (With CI set this fails instead.)` : ' (see above).'),
  );
  return false;
}

/**
 * A mocha hook for `before` (or a test): skips the suite with a printed reason when one of `tools`
 * is missing, or fails it in CI. Usage: `before(requireTool(REDIS_SERVER, CHROMIUM))`.
 */
export function requireTool(...tools: Tool[]): (this: Mocha.Context) => void {
  return requireToolWith({}, ...tools);
}

/** `requireTool` with the environment and the printer given (for its own tests). */
export function requireToolWith(options: CheckOptions, ...tools: Tool[]): (this: Mocha.Context) => void {
  return function (this: Mocha.Context) {
    const what = `"${this.test?.parent?.fullTitle() ?? 'this suite'}"`;
    if (!toolsPresent(tools, what, options)) this.skip();
  };
}
