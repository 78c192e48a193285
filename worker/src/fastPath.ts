import { type Event, type Keys, type Redis, withScripts } from '@aggregator/common';

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

  /** Marks the keys as committed in the store named `storeId`. */
  async commit(dedupKeys: readonly string[], storeId: string): Promise<void> {
    await this.#scripts.fastPathCommit(dedupKeys.length, ...dedupKeys, storeId, this.ttlSeconds);
  }
}
