import type { Logger } from 'pino';
import { coerceError } from './errors.js';
import { onParentGone } from './parentChannel.js';

type Release = () => unknown;

/**
 * Resources a process holds, released in reverse order of acquisition. Release continues after a
 * failure (it is logged), and `close()` is idempotent: every call returns the same promise.
 */
export class Resources {
  readonly #stack: Array<{ name: string; release: Release }> = [];
  #closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Registers `release` to run on close; returns `value` for chaining. */
  add<T>(name: string, value: T, release: (value: T) => unknown): T {
    this.#stack.push({ name, release: () => release(value) });
    return value;
  }

  close(): Promise<void> {
    this.#closing ??= this.#releaseAll();
    return this.#closing;
  }

  async #releaseAll(): Promise<void> {
    while (this.#stack.length > 0) {
      const { name, release } = this.#stack.pop() as { name: string; release: Release };
      try {
        await release();
        this.logger.debug({ resource: name }, 'released');
      } catch (e: unknown) {
        this.logger.error({ resource: name, err: coerceError(e) }, 'release failed; continuing');
      }
    }
  }
}

/**
 * Entrypoints only: the first of `signals` runs `shutdown` (bounded by `timeoutMs`), the second
 * one forces the exit. Unless `withParent` is false, the loss of the IPC channel to the process
 * that started this one (a launcher that was SIGKILLed) counts as a first signal, so no service
 * outlives its launcher.
 */
export function handleSignals(
  logger: Logger,
  timeoutMs: number,
  shutdown: () => Promise<void>,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  { withParent = true }: { withParent?: boolean } = {},
): void {
  let stopping = false;
  const stop = (reason: Record<string, string>) => {
    stopping = true;
    logger.info(reason, 'shutting down; send the signal again to force');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: coerceError(e) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stop({ signal });
  };
  for (const signal of signals) process.on(signal, onSignal);
  if (withParent) {
    onParentGone(() => {
      if (!stopping) stop({ reason: 'the process that started this one is gone' });
    });
  }
}
