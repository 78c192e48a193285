import { coerceError, type Logger } from '@aggregator/common';
import type { EventStoreWriter } from '@aggregator/store';

/** How often a worker steps the visible head with no commit of its own to prompt it. */
export const HEAD_TICK_MS = 250;
/** The first retry of an unsettled head; doubled up to HEAD_TICK_MS. */
const FIRST_RETRY_MS = 2;

/**
 * Moves the store's visible head (`advanceHead`) after each of this worker's commits, again a
 * little later while rows are left above it (a writer still running, or another worker taking the
 * step), and every HEAD_TICK_MS in any case, so rows of a writer that died after its commit become
 * visible too. Announces each new head (`announce`: the commit channel the API's streams follow).
 * One step at a time per worker; a poke during a step runs one more after it.
 */
export class HeadTicker {
  #running = false;
  #again = false;
  #retryMs = FIRST_RETRY_MS;
  #retry: NodeJS.Timeout | undefined;
  #announced = 0;
  #stopped = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly store: Pick<EventStoreWriter, 'advanceHead'>,
    private readonly announce: (head: number) => void,
    private readonly logger: Logger,
  ) {
    this.#timer = setInterval(() => this.poke(), HEAD_TICK_MS);
    this.#timer.unref();
  }

  /** Asks for a step now (after a commit). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#step();
  }

  async #step(): Promise<void> {
    this.#running = true;
    clearTimeout(this.#retry);
    let settled = true;
    try {
      const step = await this.store.advanceHead();
      settled = step.settled;
      if (step.head > this.#announced) {
        this.#announced = step.head;
        this.announce(step.head);
      }
    } catch (e: unknown) {
      // The timer steps again; a store that is down fails the jobs, which say so.
      this.logger.debug({ err: coerceError(e).message }, 'visible head step failed; will retry');
    } finally {
      this.#running = false;
    }
    if (this.#stopped) return;
    if (this.#again) {
      this.#again = false;
      this.#retryMs = FIRST_RETRY_MS;
      void this.#step();
    } else if (!settled) {
      this.#retry = setTimeout(() => this.poke(), this.#retryMs);
      this.#retry.unref();
      this.#retryMs = Math.min(this.#retryMs * 2, HEAD_TICK_MS);
    } else {
      this.#retryMs = FIRST_RETRY_MS;
    }
  }

  /** Idempotent. A step in flight finishes on its own. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
  }
}
