import {
  coerceError,
  type Event,
  isRedisWriteRefusal,
  type QueueKeys,
  type Redis,
  withScripts,
} from '@aggregator/common';

/**
 * The Redis fast path of one worker (see common/src/lua/fastPathClaim.ts for the protocol): each
 * pair is claimed once, with `SET NX` of the first job's id. A later job may skip an event only
 * when the store confirms that the claiming job was applied. One fast path per queue partition:
 * its keys carry the partition's hash tag, so one job's claims are one script call in one slot.
 */
export class FastPath {
  readonly #scripts;

  constructor(
    redis: Redis,
    private readonly keys: Pick<QueueKeys, 'dedup'>,
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
   *
   * Fails soft when Redis refuses writes (OOM at `maxmemory`, or READONLY while a failover demotes
   * the node): returns `undefined`, "nothing known", and the store's primary key decides every
   * event of the job, as it does for events nobody claimed. That is always safe, since a claim only
   * ever lets an event be skipped whose row another applied job stored; it keeps events flowing into
   * the store instead of failing the job before it. Any other error (Redis down) is thrown.
   */
  async claim(dedupKeys: readonly string[], jobId: string): Promise<string[] | undefined> {
    try {
      return await this.#scripts.fastPathClaim(dedupKeys.length, ...dedupKeys, jobId, this.ttlSeconds);
    } catch (thrown: unknown) {
      if (isRedisWriteRefusal(coerceError(thrown))) return undefined;
      throw thrown;
    }
  }
}
