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

export function createEventFactory(runId: string, dupRatio: number, topics = 8): EventFactory {
  let generated = 0;
  let unique = 0;
  // Accumulates fractional duplicates so the ratio is exact over the run, not just on average.
  let dupDebt = 0;
  const pad = 'x'.repeat(64);
  const eventJson = (id: number) =>
    `{"topic":"bench-${id % topics}","event_id":"${runId}-${id}","timestamp":"${new Date().toISOString()}",` +
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
