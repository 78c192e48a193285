import { connect, type Socket } from 'node:net';
import { percentile } from './measure.js';

export interface HttpLoadOptions {
  /** `http://host:port` of the service. */
  url: string;
  method: 'GET' | 'POST';
  /** Path and (for POST) JSON body of the i-th request, asked for when it is about to be sent. */
  request(i: number): { path: string; body?: string };
  /** Stop after this many requests... */
  requests?: number;
  /** ...or after this many seconds. */
  durationSeconds?: number;
  connections: number;
  /** Requests per second over all connections; as fast as the service answers when absent. */
  rate?: number;
  timeoutMs?: number;
}

export interface HttpLoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50: number;
  latencyP99: number;
  durationSeconds: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** A reply whose framing cannot be read; its connection is dropped and the request counted as an error. */
const BROKEN = -2;
const INCOMPLETE = -1;

/** Where a chunked body that starts at `start` ends, INCOMPLETE while it is, or BROKEN. */
function chunkedEnd(buffer: Buffer, start: number): number {
  let at = start;
  for (;;) {
    const lineEnd = buffer.indexOf(CRLF, at);
    if (lineEnd < 0) return INCOMPLETE;
    const sizeText = buffer.toString('latin1', at, lineEnd);
    if (!/^[0-9a-f]+(;.*)?$/i.test(sizeText)) return BROKEN;
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) {
      // The last chunk, then (no trailers from this service) the empty line.
      return buffer.length >= lineEnd + 4 ? lineEnd + 4 : INCOMPLETE;
    }
    at = lineEnd + 2 + size + 2;
    if (buffer.length < at) return INCOMPLETE;
  }
}

/**
 * A closed-loop HTTP/1.1 load generator for the benchmark: `connections` keep-alive sockets, one
 * request in flight on each, as autocannon does by default. It exists because the generator shares
 * the two cores with the service under test: autocannon rebuilds every request whose body changes
 * and spent 50–80 µs of CPU per request here, a quarter of the machine in single-event mode; this
 * writes one string per request and reads only the status line and the framing (`Content-Length`
 * or chunked) of each reply.
 *
 * Latency is measured from the write of a request to the end of its reply, in milliseconds. A
 * request that fails (connection error, reset, timeout) is counted and not retried.
 */
export function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  if (!Number.isInteger(options.connections) || options.connections < 1) {
    throw new RangeError('connections must be a whole number of at least 1');
  }
  if (options.requests === undefined && options.durationSeconds === undefined) {
    throw new RangeError('give requests, durationSeconds, or both');
  }
  const { hostname, port } = new URL(options.url);
  const host = `${hostname}:${port}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const total = options.requests ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const deadline =
    options.durationSeconds === undefined ? Number.POSITIVE_INFINITY : started + options.durationSeconds * 1000;
  const latencies: number[] = [];
  const result = { requests: 0, non2xx: 0, errors: 0, timeouts: 0 };
  let issued = 0;
  let open = options.connections;

  return new Promise((resolve) => {
    const connections: Connection[] = [];
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const c of connections) if (c.sentAt !== undefined && now - c.sentAt > timeoutMs) c.fail('timeout');
    }, 1000);

    const finish = () => {
      clearInterval(watchdog);
      latencies.sort((a, b) => a - b);
      resolve({
        ...result,
        latencyP50: Math.round(percentile(latencies, 50)),
        latencyP99: Math.round(percentile(latencies, 99)),
        durationSeconds: (performance.now() - started) / 1000,
      });
    };

    class Connection {
      socket: Socket | undefined;
      sentAt: number | undefined;
      #buffer: Buffer = Buffer.alloc(0);
      #done = false;

      send(): void {
        if (issued >= total || performance.now() >= deadline) {
          this.close();
          return;
        }
        const due = options.rate === undefined ? 0 : started + (issued / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) {
          setTimeout(() => this.send(), wait);
          return;
        }
        const { path, body } = options.request(issued++);
        const head = `${options.method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
        const message =
          body === undefined
            ? `${head}\r\n`
            : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        const socket = this.#connected();
        this.sentAt = performance.now();
        socket.write(message);
      }

      #connected(): Socket {
        if (this.socket && !this.socket.destroyed) return this.socket;
        const socket = connect({ host: hostname, port: Number(port), noDelay: true });
        socket.on('data', (chunk: Buffer) => this.#read(chunk));
        socket.on('error', () => {}); // reported through 'close'
        socket.on('close', () => {
          if (this.socket === socket) this.fail('error');
        });
        this.socket = socket;
        this.#buffer = Buffer.alloc(0);
        return socket;
      }

      #read(chunk: Buffer): void {
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
        const headerEnd = this.#buffer.indexOf(HEADER_END);
        if (headerEnd < 0) return;
        const headers = this.#buffer.toString('latin1', 0, headerEnd);
        const status = Number(headers.slice(9, 12));
        const bodyStart = headerEnd + HEADER_END.length;
        const length = /\r\ncontent-length: *(\d+)/i.exec(headers)?.[1];
        const end =
          length !== undefined
            ? bodyStart + Number(length)
            : /\r\ntransfer-encoding: *chunked/i.test(headers)
              ? chunkedEnd(this.#buffer, bodyStart)
              : status === 204 || status === 304
                ? bodyStart
                : BROKEN; // a body that ends with the connection: not something this service sends
        if (end === BROKEN || !Number.isInteger(status)) {
          this.fail('error');
          return;
        }
        if (end === INCOMPLETE || this.#buffer.length < end) return;
        this.#buffer = this.#buffer.subarray(end);
        if (/\r\nconnection: *close/i.test(headers)) this.#drop(); // the next request gets a new one
        this.#complete(status >= 200 && status < 300 ? 'ok' : 'non2xx');
      }

      #complete(outcome: 'ok' | 'non2xx' | 'error' | 'timeout'): void {
        if (this.sentAt === undefined) return;
        result.requests++;
        if (outcome === 'non2xx') result.non2xx++;
        else if (outcome === 'error') result.errors++;
        else if (outcome === 'timeout') result.timeouts++;
        if (outcome === 'ok' || outcome === 'non2xx') latencies.push(performance.now() - this.sentAt);
        this.sentAt = undefined;
        this.send();
      }

      /** The request in flight failed: count it, drop the socket, go on with a new one. */
      fail(outcome: 'error' | 'timeout'): void {
        this.#drop();
        this.#complete(outcome);
      }

      #drop(): void {
        const socket = this.socket;
        this.socket = undefined; // first, so its 'close' is not taken for a failure
        socket?.destroy();
      }

      close(): void {
        if (this.#done) return;
        this.#done = true;
        this.#drop();
        if (--open === 0) finish();
      }
    }

    for (let i = 0; i < options.connections; i++) {
      const c = new Connection();
      connections.push(c);
      c.send();
    }
  });
}
