import type { Connection, RetryNotice } from './httpAttempt.js';
import { Publisher, type PublisherOptions } from './Publisher.js';
import { type PagesOptions, pages } from './pages.js';
import { type PublishResult, publishEvents } from './publishBatch.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy.js';
import { type StreamOptions, streamEvents } from './streamEvents.js';
import { type SubscribeOptions, type Subscription, subscribe } from './subscribe.js';
import type { PublishEvent, StoredEvent } from './types.js';

export interface ClientOptions {
  /** The service's base URL, e.g. `http://localhost:8080`. */
  url: string;
  /** The service's `API_TOKEN`, sent with publishes (and reads, unless `readToken` is given). */
  token?: string;
  /** The service's `READ_TOKEN`, sent with reads. */
  readToken?: string;
  /** Longest wait for one reply (a stream's headers). Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Default retry policy of `publish` and `pages` (a `Publisher` and streams never give up by default). */
  retry?: Partial<RetryPolicy>;
  /** The fetch to use; the platform's by default. */
  fetch?: typeof fetch;
}

/**
 * A producer's and a consumer's view of the service. Every method takes an `AbortSignal`; nothing
 * here uses a Node-only API, so it runs in browsers and edge runtimes too.
 */
export class Client {
  readonly #write: Connection;
  readonly #read: Connection;
  readonly #policy: RetryPolicy;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url))
      throw new TypeError(`url must start with http:// or https://: ${options.url}`);
    const base = {
      url: options.url,
      // Called through a wrapper: some platforms' fetch refuses to run with another `this`.
      fetch: options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)),
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    };
    this.#write = { ...base, token: options.token };
    this.#read = { ...base, token: options.readToken ?? options.token };
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /**
   * Publishes one event or a batch in one request, retried until acknowledged or the retry budget
   * runs out (`RetriesExhaustedError`); rejects with `ApiError` for a `4xx` but `408`/`429`.
   */
  publish(
    events: PublishEvent | readonly PublishEvent[],
    options: { signal?: AbortSignal; retry?: Partial<RetryPolicy>; onRetry?: (notice: RetryNotice) => void } = {},
  ): Promise<PublishResult> {
    const list: readonly PublishEvent[] = Array.isArray(events) ? events : [events as PublishEvent];
    return publishEvents(this.#write, list, {
      policy: { ...this.#policy, ...options.retry },
      signal: options.signal,
      onRetry: options.onRetry,
    });
  }

  /** A batching publisher (see `Publisher`); close it when done. */
  publisher(options: PublisherOptions = {}): Publisher {
    return new Publisher(this.#write, options);
  }

  /** The events of `GET /events/stream` as an async iterator that resumes by itself (see `streamEvents`). */
  stream(options: StreamOptions = {}): AsyncGenerator<StoredEvent> {
    return streamEvents(this.#read, options);
  }

  /** `stream` in callback form. */
  subscribe(options: SubscribeOptions): Subscription {
    return subscribe(this.#read, options);
  }

  /** The stored events, page by page, following `Link` (see `pages`). */
  pages(options: PagesOptions = {}): AsyncGenerator<StoredEvent[]> {
    return pages(this.#read, { ...options, retry: { ...this.#policy, ...options.retry } });
  }
}
