/**
 * Readers for `__ENV` (set with `k6 run -e NAME=value` or in the process environment). Each one
 * validates its variable and throws in the init context, so a typo stops k6 before any request
 * is sent instead of silently running a different test. Blank counts as unset.
 */

/**
 * @param {string} name
 * @returns {string | undefined}
 */
function raw(name) {
  const value = __ENV[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * @param {string} name
 * @param {string} value
 * @param {string} expected
 * @returns {never}
 */
function invalid(name, value, expected) {
  throw new Error(`environment variable ${name}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}

/**
 * @param {string} name
 * @param {string} fallback
 * @returns {string}
 */
export function envString(name, fallback) {
  return raw(name) ?? fallback;
}

/**
 * An integer from `min` to `max`.
 * @param {string} name
 * @param {number} fallback
 * @param {number} [min]
 * @param {number} [max]
 * @returns {number}
 */
export function envInt(name, fallback, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const value = raw(name);
  if (value === undefined) return fallback;
  const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) invalid(name, value, `an integer from ${min} to ${max}`);
  return n;
}

/**
 * A finite number from `min` to `max`.
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 * @returns {number}
 */
export function envNumber(name, fallback, min, max) {
  const value = raw(name);
  if (value === undefined) return fallback;
  const n = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) invalid(name, value, `a number from ${min} to ${max}`);
  return n;
}

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
/** @type {{ [unit: string]: number }} */
const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/**
 * Milliseconds in a k6/Go-style duration such as `90s`, `1m30s` or `250ms`.
 * @param {string} text
 * @returns {number | undefined} undefined when `text` is not such a duration
 */
export function durationMs(text) {
  if (!DURATION.test(text)) return undefined;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  for (let match = part.exec(text); match !== null; match = part.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
  }
  return total;
}

/**
 * A duration, returned as k6 takes it (`"90s"`) and in milliseconds.
 * @param {string} name
 * @param {string} fallback
 * @returns {{ text: string, ms: number }}
 */
export function envDuration(name, fallback) {
  const text = raw(name) ?? fallback;
  const ms = durationMs(text);
  if (ms === undefined || ms <= 0) invalid(name, text, 'a positive duration such as 250ms, 30s, 5m or 1h30m');
  return { text, ms };
}

/**
 * Stages for the `ramping-*` executors, written `duration:target,…`, e.g. `30s:50,1m:200,30s:0`.
 * @param {string} name
 * @param {string} fallback
 * @returns {{ duration: string, target: number }[]}
 */
export function envStages(name, fallback) {
  const text = raw(name) ?? fallback;
  const stages = text.split(',').map((part) => {
    const match = /^\s*([0-9.a-z]+)\s*:\s*(\d+)\s*$/.exec(part);
    const duration = match?.[1];
    const target = match?.[2];
    if (duration === undefined || target === undefined || durationMs(duration) === undefined) {
      return invalid(name, text, 'comma-separated duration:target pairs such as 30s:50,1m:200,30s:0');
    }
    return { duration, target: Number(target) };
  });
  return stages;
}

/**
 * BASE_URL: where the aggregator listens, without a trailing slash.
 * @returns {string}
 */
export function envBaseUrl() {
  const value = envString('BASE_URL', 'http://localhost:8080');
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(value)) invalid('BASE_URL', value, 'an http(s) URL');
  return value.replace(/\/+$/, '');
}
