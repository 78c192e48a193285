/**
 * Generates publish bodies for a benchmark run with an exact duplicate ratio: a duplicate re-sends
 * an event id this run already generated, so the expected unique count is known in advance.
 */
export interface EventFactory {
  /** The body of one request of `size` events. */
  body(size: number): string;
  readonly generated: number;
  readonly unique: number;
}

/**
 * How event ids are spelled. `ordered`: `<run>-<n>`, which sort in about the order they are sent,
 * as time-ordered ids (UUIDv7, ULID, counters) do. `random`: `<run>-<16 hex digits>` scattered
 * uniformly, as UUIDv4 ids are; every insert then lands on a random page of the primary-key index.
 */
export type IdStyle = 'ordered' | 'random';

/** A 32-bit integer hash (murmur3's finaliser): spreads consecutive n over the whole range. */
function mix32(n: number): number {
  let h = n | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A random-looking id that is still a function of n, so a duplicate can re-send it. */
function randomId(n: number): string {
  return (
    mix32(n).toString(16).padStart(8, '0') +
    mix32(n ^ 0x5bd1e995)
      .toString(16)
      .padStart(8, '0')
  );
}

/**
 * The name of bench topic `i`: three segments, four topics to a group (`bench.g0.t0` …
 * `bench.g0.t3`, `bench.g1.t0` …), so the pattern `bench.g<k>.*` selects four topics by its prefix.
 */
export function benchTopic(i: number): string {
  return `bench.g${Math.floor(i / 4)}.t${i % 4}`;
}

export function createEventFactory(
  runId: string,
  dupRatio: number,
  ids: IdStyle = 'ordered',
  topics = 8,
): EventFactory {
  let generated = 0;
  let unique = 0;
  // Accumulates fractional duplicates so the ratio is exact over the run, not just on average.
  let dupDebt = 0;
  const pad = 'x'.repeat(64);
  const idOf = ids === 'random' ? randomId : String;
  const eventJson = (id: number) =>
    `{"topic":"${benchTopic(id % topics)}","event_id":"${runId}-${idOf(id)}","timestamp":"${new Date().toISOString()}",` +
    `"source":"bench","payload":{"n":${id},"pad":"${pad}"}}`;
  return {
    body(size) {
      const parts: string[] = new Array(size);
      for (let i = 0; i < size; i++) {
        generated++;
        dupDebt += dupRatio;
        if (dupDebt >= 1 && unique > 0) {
          dupDebt -= 1;
          parts[i] = eventJson(Math.floor(Math.random() * unique));
        } else {
          parts[i] = eventJson(unique++);
        }
      }
      return size === 1 ? (parts[0] as string) : `[${parts.join(',')}]`;
    },
    get generated() {
      return generated;
    },
    get unique() {
      return unique;
    },
  };
}
