/**
 * The IPC channel to the process that started this one, when it opened one: the local launcher
 * (`npm start`, the benchmark, the tests) or the API cluster's primary. A service announces on
 * it when it is ready, so its starter does not have to read its logs (which LOG_LEVEL may
 * silence); in a container there is no channel and nothing is sent.
 */

/** A service is up: the API listens (at `address`), or the worker takes jobs. */
export interface ReadyMessage {
  type: 'aggregator:ready';
  service: 'api' | 'worker';
  /** Where the API listens: `server.address()`. */
  address?: { address: string; family: string; port: number };
}

export function isReadyMessage(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'aggregator:ready';
}

/** Tells the starting process, if it listens, that this service is ready. */
export function announceReady(message: Omit<ReadyMessage, 'type'>): void {
  process.send?.({ type: 'aggregator:ready', ...message } satisfies ReadyMessage);
}

/** Runs `onGone` once when the starting process goes away without stopping this one (e.g. it was SIGKILLed). */
export function onParentGone(onGone: () => void): void {
  if (process.channel) process.once('disconnect', onGone);
}
