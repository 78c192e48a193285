import { FAST_PATH_CLAIM } from './lua/fastPathClaim.js';
import { PUBLISH_COUNTERS } from './lua/publishCounters.js';
import type { Redis } from './redis.js';

/** The Lua scripts as typed commands (ioredis sends EVALSHA and falls back to EVAL). */
export interface ScriptCommands {
  /** The claim script with binary replies (see lua/fastPathClaim.ts for its inputs). */
  fastPathClaimBuffer(key: string, ...args: Array<string | number | Buffer>): Promise<Buffer[]>;
  publishCounters(...keysThenArgs: Array<string | number>): Promise<number>;
}

const DEFINED = Symbol('aggregator.scripts');

/** Registers the scripts on a connection (once) and returns it typed. */
export function withScripts(redis: Redis): Redis & ScriptCommands {
  const target = redis as Redis & ScriptCommands & { [DEFINED]?: true };
  if (!target[DEFINED]) {
    redis.defineCommand('fastPathClaim', { numberOfKeys: 1, lua: FAST_PATH_CLAIM });
    redis.defineCommand('publishCounters', { numberOfKeys: 2, lua: PUBLISH_COUNTERS });
    target[DEFINED] = true;
  }
  return target;
}
