import {
  type Event,
  type Keys,
  publishCountersCalls,
  type Redis,
  type ScriptCommands,
  type StoreCounters,
  withScripts,
} from '@aggregator/common';

type PipelineResult = Array<[Error | null, unknown]> | null;

/**
 * The Redis fast path of one worker (see common/src/lua/fastPathClaim.ts for the protocol): a
 * pending claim before the store is asked, a committed marker after the commit. Only a committed
 * marker ever lets an event skip the store.
 */
export class FastPath {
  readonly #scripts;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {
    this.#scripts = withScripts(redis);
  }

  keysOf(events: readonly Event[]): string[] {
    return events.map((e) => this.keys.dedup(e.topic, e.event_id));
  }

  /**
   * Claims the keys for `jobId`; returns, per key, whether its row is known to be committed in
   * the store named `storeId`.
   */
  async claim(dedupKeys: readonly string[], jobId: string, storeId: string): Promise<boolean[]> {
    const flags = await this.#scripts.fastPathClaim(
      dedupKeys.length,
      ...dedupKeys,
      `p:${jobId}`,
      storeId,
      this.ttlSeconds,
    );
    return flags.map((f) => f === 1);
  }

  /**
   * Marks the keys as committed in the store named `storeId` and publishes the job's counters and
   * topics, in one round trip (a pipeline of the two scripts).
   */
  async commit(dedupKeys: readonly string[], storeId: string, counters: StoreCounters, topics: readonly string[]) {
    const pipeline = this.#scripts.pipeline() as unknown as ScriptCommands & { exec(): Promise<PipelineResult> };
    pipeline.fastPathCommit(dedupKeys.length, ...dedupKeys, storeId, this.ttlSeconds);
    for (const args of publishCountersCalls(this.keys, counters, topics)) pipeline.publishCounters(...args);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw failed?.[0] ?? new Error('the Redis pipeline was discarded');
  }
}
