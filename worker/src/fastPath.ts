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
 * The Redis fast path of one worker (see common/src/lua/fastPathClaim.ts for the protocol): each
 * pair is claimed once, with `SET NX` of the first job's id. A later job may skip an event only
 * when the store confirms that the claiming job was applied.
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
   * Claims the keys for `jobId`; returns, per key, the id of the job that claimed it before, or
   * `''` when `jobId` claimed it now.
   */
  claim(dedupKeys: readonly string[], jobId: string): Promise<string[]> {
    return this.#scripts.fastPathClaim(dedupKeys.length, ...dedupKeys, jobId, this.ttlSeconds);
  }

  /**
   * Publishes a job's counters and topics to the Redis stats hash, in one round trip (a pipeline
   * when there are more than 1,000 topics).
   */
  async publish(counters: StoreCounters, topics: readonly string[]): Promise<void> {
    const pipeline = this.#scripts.pipeline() as unknown as ScriptCommands & { exec(): Promise<PipelineResult> };
    for (const args of publishCountersCalls(this.keys, counters, topics)) pipeline.publishCounters(...args);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw failed?.[0] ?? new Error('the Redis pipeline was discarded');
  }
}
