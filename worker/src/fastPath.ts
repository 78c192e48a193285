import { hash } from 'node:crypto';
import {
  coerceError,
  type Event,
  isRedisWriteRefusal,
  type Metrics,
  pairIdentity,
  type QueueKeys,
  type Redis,
  withScript,
} from '@aggregator/common';
import type { FastPathGeometry } from './fastPathBudget.js';
import { FAST_PATH_CLAIM } from './lua/fastPathClaim.js';

/** The claim script as a command, with binary replies (see lua/fastPathClaim.ts for its inputs). */
interface ClaimCommand {
  fastPathClaimBuffer(key: string, ...args: Array<string | number | Buffer>): Promise<Buffer[]>;
}

/** Bytes of a pair's digest: 128 bits, so two pairs share one by chance about once in 2^64 pairs. */
const DIGEST_BYTES = 16;

/** The digest of a pair: the first 16 bytes of the SHA-256 of its identity. */
export function pairDigest(event: Pick<Event, 'topic' | 'event_id'>): Buffer {
  return hash('sha256', pairIdentity(event.topic, event.event_id), 'buffer').subarray(0, DIGEST_BYTES);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG_UUID = 1;
const TAG_TEXT = 2;

/**
 * A job id as the fast path stores it: the API's ids (lower-case UUIDs) as their 16 bytes, any
 * other id as its UTF-8; a first byte says which, so the two can never be confused.
 */
export function encodeJobId(jobId: string): Buffer {
  if (UUID.test(jobId)) return Buffer.concat([Buffer.of(TAG_UUID), Buffer.from(jobId.replaceAll('-', ''), 'hex')]);
  return Buffer.concat([Buffer.of(TAG_TEXT), Buffer.from(jobId, 'utf8')]);
}

/** The inverse of `encodeJobId`. */
export function decodeJobId(stored: Buffer): string {
  const body = stored.subarray(1);
  if (stored[0] === TAG_TEXT) return body.toString('utf8');
  if (stored[0] === TAG_UUID && body.length === 16) {
    const hex = body.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new Error(`not a fast-path claim: ${stored.toString('hex')}`);
}

/**
 * The Redis fast path of one worker for one queue partition (the protocol and its memory bound:
 * lua/fastPathClaim.ts): each pair is claimed once, with the first job's id. A later job
 * may skip an event only when the store confirms that the claiming job was applied. Its keys carry
 * the partition's hash tag, so one job's claims are one script call in one slot.
 */
export class FastPath {
  readonly #scripts: Redis & ClaimCommand;

  constructor(
    redis: Redis,
    private readonly keys: Pick<QueueKeys, 'fastPath'>,
    readonly geometry: FastPathGeometry,
    private readonly metrics?: Pick<Metrics, 'fastPathLookups'>,
  ) {
    this.#scripts = withScript<ClaimCommand>(redis, 'fastPathClaim', 1, FAST_PATH_CLAIM);
  }

  /**
   * Claims the events' pairs for `jobId`; returns, per event, the id of the job that claimed its
   * pair before, or `''` when `jobId` claimed it now.
   *
   * Fails soft when Redis refuses writes (OOM at `maxmemory`, or READONLY while a failover demotes
   * the node): returns `undefined`, "nothing known", and the store's primary key decides every
   * event of the job, as it does for events nobody claimed. That is always safe, since a claim only
   * ever lets an event be skipped whose row another applied job stored; it keeps events flowing into
   * the store instead of failing the job before it. Any other error (Redis down) is thrown.
   */
  async claim(events: readonly Pick<Event, 'topic' | 'event_id'>[], jobId: string): Promise<string[] | undefined> {
    const g = this.geometry;
    let replies: Buffer[];
    try {
      replies = await this.#scripts.fastPathClaimBuffer(
        this.keys.fastPath,
        encodeJobId(jobId),
        g.capacity,
        g.spanMs,
        g.generations,
        g.shards,
        ...events.map(pairDigest),
      );
    } catch (thrown: unknown) {
      if (isRedisWriteRefusal(coerceError(thrown))) return undefined;
      throw thrown;
    }
    const holders = replies.map((reply) => (reply.length === 0 ? '' : decodeJobId(reply)));
    if (this.metrics) {
      const known = holders.filter((holder) => holder !== '' && holder !== jobId).length;
      this.metrics.fastPathLookups.inc({ result: 'hit' }, known);
      this.metrics.fastPathLookups.inc({ result: 'miss' }, holders.length - known);
    }
    return holders;
  }
}
