/**
 * Which queue partition an event travels through.
 *
 * An event's partition is a function of its topic alone, so one topic always goes through one
 * partition (and its fast-path keys always sit in that partition's Redis slot):
 *
 *   partition = FNV-1a-32(UTF-8 bytes of the topic) mod QUEUE_PARTITIONS
 *
 * FNV-1a 32-bit: start from 2166136261 (0x811c9dc5); for each byte, XOR it in, then multiply by
 * 16777619 (0x01000193) modulo 2^32. It is fixed here for good: changing it would move topics
 * between partitions, exactly as changing QUEUE_PARTITIONS does (see docs/redis-cluster.md).
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** FNV-1a 32-bit hash of the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** The partition (0 … partitions − 1) of every event of `topic`. */
export function partitionOf(topic: string, partitions: number): number {
  return partitions <= 1 ? 0 : fnv1a32(topic) % partitions;
}

/**
 * Parses a partition list such as `0-3,6` into sorted, distinct partition numbers.
 *
 * @throws Error with a readable message on a malformed list or a reversed range
 */
export function parsePartitionList(spec: string): number[] {
  const found = new Set<number>();
  for (const part of spec.split(',')) {
    const match = /^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$/.exec(part);
    if (!match) {
      throw new Error(`"${part.trim()}" is not a partition or a range; write e.g. "0-3,6"`);
    }
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new Error(`the range "${part.trim()}" runs backwards; write it as "${to}-${from}"`);
    for (let p = from; p <= to; p++) found.add(p);
  }
  return [...found].sort((a, b) => a - b);
}
