import type { Redis } from './redis.js';

const DEFINED = Symbol('aggregator.scripts');

/**
 * Registers a Lua script as the command `name` on a connection (once per connection) and returns
 * the connection typed with it: ioredis then sends EVALSHA and falls back to EVAL, and adds a
 * `<name>Buffer` variant with binary replies. Each script lives in a module of its own, with its
 * keys, arguments and reply in its header (common/src/lua/, worker/src/lua/).
 *
 * @typeParam Command - the typed signature(s) of the command, e.g. `{ name(...args): Promise<number> }`
 */
export function withScript<Command>(redis: Redis, name: string, numberOfKeys: number, lua: string): Redis & Command {
  const target = redis as Redis & { [DEFINED]?: Set<string> };
  target[DEFINED] ??= new Set();
  const defined = target[DEFINED];
  if (!defined.has(name)) {
    redis.defineCommand(name, { numberOfKeys, lua });
    defined.add(name);
  }
  return redis as Redis & Command;
}
