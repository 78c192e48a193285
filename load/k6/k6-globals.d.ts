/**
 * Globals the k6 runtime provides that `@types/k6` does not declare. `lib: ["dom"]` would declare
 * `console`, but also `fetch`, `window` and timers that k6 scripts must not assume.
 */
declare global {
  const console: {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  };
}

export {};
