/**
 * A small Server-Sent Events client for the stream tests (fetch + the SSE line format): it keeps
 * every message and comment, and lets a test wait on a condition over them, never on a sleep.
 */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

export interface StreamedEvent {
  topic: string;
  event_id: string;
  seq: number;
  [field: string]: unknown;
}

interface Waiter {
  test: () => boolean;
  resolve: () => void;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server ends the stream, or the connection fails or is aborted. */
  readonly ended: Promise<void>;
  #waiters: Waiter[] = [];
  #lastEventId: string | undefined;
  #done = false;
  #error: unknown;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    this.ended = this.#read().then(
      () => this.#finish(undefined),
      (error: unknown) => this.#finish(error),
    );
  }

  /** Opens a stream; resolves once the response head arrived (any status: see `response.status`). */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    return new SseClient(response, abort);
  }

  /** The events (`data:` of the unnamed messages), parsed. */
  get events(): StreamedEvent[] {
    return this.messages.filter((m) => m.event === 'message').map((m) => JSON.parse(m.data) as StreamedEvent);
  }

  /** As a browser keeps it: the last `id:` received, also of a message without `data:` (a heartbeat's). */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Waits until `test()` holds (checked on each message, comment and at the end). */
  waitFor(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const last = this.messages.at(-1);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}: ${this.messages.length} messages, last ${JSON.stringify(last)}, ended ${this.#done} ${String(this.#error ?? '')}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Waits until `count` events arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.events.length >= count, `${count} events`, timeoutMs);
  }

  close(): Promise<void> {
    this.abort.abort();
    return this.ended;
  }

  async #read(): Promise<void> {
    const body = this.response.body;
    if (!body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (;;) {
        const match = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
        if (!match) break;
        this.#parseBlock(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    }
  }

  #parseBlock(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== undefined) this.#lastEventId = id;
    if (data.length > 0) this.messages.push({ id, event, data: data.join('\n') });
    this.#check();
  }

  #finish(error: unknown): void {
    this.#done = true;
    this.#error = error;
    this.#check();
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

/** Opens a stream on `apiUrl` and checks that it opened. */
export async function openStream(apiUrl: string, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${apiUrl}/events/stream${query}`, headers);
  if (client.response.status !== 200) {
    await client.close();
    throw new Error(`stream answered ${client.response.status}`);
  }
  return client;
}
