/**
 * Options of the command-line tools (`npm run publish`, `npm run bench`, `npm start`), parsed one
 * way: each tool names the option, its bounds and its default, and a bad value gets the same
 * message from every tool.
 */

/** A bad command line: the tool prints the message and exits (the publisher CLI with 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * The integer value of option `--name`, from `min` to `max` inclusive; `fallback` when the option
 * is absent (`raw` undefined).
 *
 * @throws UsageError for an empty value, a fraction, a number out of bounds or anything else
 */
export function integerOption(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
  fallback?: number,
): number {
  if (raw === undefined && fallback !== undefined) return fallback;
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw ?? ''}"`);
  }
  return n;
}
