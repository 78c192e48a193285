import { type Redis, readRedisMemory } from '@aggregator/common';

/** `used_memory` of a single Redis server. */
export async function usedMemory(redis: Redis): Promise<number> {
  const [server] = await readRedisMemory(redis);
  return server?.used ?? Number.NaN;
}

/** The keys matching `pattern` and their bytes (MEMORY USAGE counts every field of a hash). */
export async function keysMemory(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of found) {
      bytes += (await redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0;
      keys++;
    }
  } while (cursor !== '0');
  return { bytes, keys };
}
