import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** The service name in every line: `api` or `worker`. */
  service: string;
  replica: string;
  /** Human-readable output; defaults to on when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * Creates the one logger of a process. JSON lines by default; pino-pretty in a terminal.
 * Payloads are never logged at info level: log event identities, not contents.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  return pino({
    level: options.level,
    base: { service: options.service, replica: options.replica },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  });
}
