import { type IncomingMessage, request } from 'node:http';
import { percentile } from './measure.js';

/** What the benchmark's event streams received. */
export interface StreamLoadResult {
  streams: number;
  /** Events delivered over all streams. */
  delivered: number;
  /** Publish → delivered: arrival here minus the `timestamp` the generator stamped on the event. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Whether every stream got every expected event once, in seq order. */
  exact: boolean;
}

export interface BenchStreams {
  /** Resolves once every stream has `count` events (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  /** Closes the streams and reports. */
  stop(expected: number): StreamLoadResult;
}

interface Stream {
  response: IncomingMessage;
  count: number;
  lastSeq: number;
  inOrder: boolean;
}

const SEQ = /^id: (\d+)$/m;
const TIMESTAMP = '"timestamp":"';

/**
 * Opens `count` `GET /events/stream?after=` connections and records, for each event received,
 * the time since the generator built it. Parsing is kept to two string searches per message, so
 * the benchmark process measures the service, not its own JSON parsing.
 */
export async function openBenchStreams(url: string, count: number, after: number): Promise<BenchStreams> {
  const latencies: number[] = [];
  const streams = await Promise.all(
    Array.from({ length: count }, () => openOne(`${url}/events/stream?after=${after}`, latencies)),
  );
  return {
    async waitFor(expected, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (streams.some((s) => s.count < expected)) {
        if (Date.now() > deadline) {
          throw new Error(`streams not caught up: ${streams.map((s) => s.count).join(',')} of ${expected}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop(expected) {
      for (const s of streams) s.response.destroy();
      latencies.sort((a, b) => a - b);
      return {
        streams: count,
        delivered: latencies.length,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies.at(-1) ?? Number.NaN,
        exact: streams.every((s) => s.inOrder && s.count === expected),
      };
    },
  };
}

function openOne(url: string, latencies: number[]): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`stream answered ${response.statusCode}`));
        response.resume();
        return;
      }
      const stream: Stream = { response, count: 0, lastSeq: 0, inOrder: true };
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const now = Date.now();
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const seq = SEQ.exec(message)?.[1];
          if (seq === undefined) continue;
          const at = message.indexOf(TIMESTAMP) + TIMESTAMP.length;
          latencies.push(now - Date.parse(message.slice(at, at + 24)));
          if (Number(seq) <= stream.lastSeq) stream.inOrder = false;
          stream.lastSeq = Number(seq);
          stream.count++;
        }
      });
      response.on('error', () => {});
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}
