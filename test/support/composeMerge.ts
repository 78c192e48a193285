import { parse } from 'yaml';
import { type ComposeFile, readRepoFile } from './deployFiles.js';

/**
 * Several compose files read as `docker compose -f a.yml -f b.yml` sees them, for static checks of
 * override files. Implements the merge rules of the Compose specification that our files use
 * (https://docs.docker.com/reference/compose-file/merge/): mappings merge key by key; sequences
 * append, except `volumes` and `ports`, unique by target; `command`, `entrypoint` and
 * `healthcheck.test` are replaced; a value tagged `!reset` removes what the earlier files set.
 */

const RESET = Symbol('!reset');

// `!reset` may tag a scalar (`!reset null`), a sequence (`!reset []`) or a mapping (`!reset {}`).
const resetTags = (['scalar', 'seq', 'map'] as const).map((kind) => ({
  tag: '!reset',
  ...(kind === 'scalar' ? {} : { collection: kind }),
  resolve: () => RESET,
}));

/** One compose file as written, `!reset` values kept as a marker for `mergeCompose`. */
export function readComposeLayer(path: string): unknown {
  return parse(readRepoFile(path), { customTags: resetTags });
}

const REPLACED = new Set(['command', 'entrypoint', 'test']);
const UNIQUE_BY_TARGET = new Set(['volumes', 'ports']);

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function targetOf(entry: unknown): string {
  if (isMap(entry)) return String(entry.target);
  const parts = String(entry).split(':');
  return parts.length >= 2 ? (parts[1] as string) : (parts[0] as string);
}

function mergeValue(key: string, base: unknown, over: unknown): unknown {
  if (over === RESET) return undefined;
  if (base === undefined || REPLACED.has(key)) return over;
  if (isMap(base) && isMap(over)) return mergeMaps(base, over);
  if (Array.isArray(base) && Array.isArray(over)) {
    if (!UNIQUE_BY_TARGET.has(key)) return [...base, ...over];
    const replaced = new Set(over.map(targetOf));
    return [...base.filter((entry) => !replaced.has(targetOf(entry))), ...over];
  }
  return over;
}

function mergeMaps(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const next = mergeValue(key, base[key], value);
    if (next === undefined) delete merged[key];
    else merged[key] = next;
  }
  return merged;
}

/** The model `docker compose -f paths[0] -f paths[1] …` would run. */
export function readMergedCompose(...paths: string[]): ComposeFile {
  const layers = paths.map(readComposeLayer);
  return layers.reduce<Record<string, unknown>>(
    (merged, layer) => mergeMaps(merged, isMap(layer) ? layer : {}),
    {},
  ) as unknown as ComposeFile;
}

/**
 * `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}` and `${NAME?message}`
 * substituted as compose does, from `env`. A required variable that is missing throws (`up` would
 * refuse to start) with its message.
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, operand = '') => {
    const set = env[name];
    if (op === ':-') return set ? set : operand;
    if (op === '-') return set ?? operand;
    if ((op === ':?' && !set) || (op === '?' && set === undefined)) {
      throw new Error(`required variable ${name} is missing a value: ${operand}`);
    }
    return set ?? '';
  });
}
