/**
 * Fast-path duplicate check for one job, in one round trip, within a fixed memory budget.
 *
 * KEYS[1]: the fast-path hash of the job's partition (see common/src/keys.ts). Every other key the script
 *   touches is `KEYS[1]:<generation>:<shard>`: the same hash tag, so the same cluster slot.
 * ARGV[1]: the claiming job's id, encoded (fastPath.ts); ARGV[2]: claims a generation holds before
 *   the next one starts; ARGV[3]: the longest a generation stays the newest, in ms; ARGV[4]: how many
 *   generations are looked in (the newest and the ones before it); ARGV[5]: shards of a new
 *   generation; ARGV[6..]: one 16-byte digest per event, in job order.
 * Returns: per digest, '' when this call claimed it (the pair is new to the fast path), else the
 *   encoded id of the job that claimed it first.
 *
 * Claims live in generations. The newest takes every new claim until it holds ARGV[2] of them or
 * ARGV[3] ms have passed; then a new one starts, and the oldest of ARGV[4] + 1 is dropped. So the
 * fast path keeps the last (ARGV[4] - 1 .. ARGV[4]) generations' worth of claims and never more
 * than ARGV[4] + 1 generations (the extra one partly deleted), which is what bounds its memory: a generation is `ARGV[5]` small
 * hashes (about 64 claims each, so Redis stores them as compact listpacks) of fixed-size fields and
 * values, whatever the pair's length. A dropped generation's shards are deleted a few hundred per
 * call (its shard count is kept in the hash as `s<generation>` until then), so no call pauses Redis
 * for long. A lookup never renews a claim: a claim is forgotten at the latest ARGV[4] spans after
 * it was written, however often its pair is replayed.
 *
 * A claim is the id of the first job that claimed the pair, and a copy never changes it. It does
 * not say by itself that the row is stored: the worker skips an event only when the claiming job is
 * another job that the store has recorded as applied (`applied_jobs`, written in the same
 * transaction as that job's rows). So a claim left by a worker killed before its commit, by a job
 * that never succeeded, or by a job of a store that was since replaced or restored from a backup
 * can never cause a skip, and a claim that was dropped only sends its event to the store, whose
 * primary key is the authority.
 *
 * The hash KEYS[1] holds: g (the newest generation), t (when it started, ms of the Redis clock), n
 * (claims written into it), c and cs (the oldest generation whose shards may still exist, and its
 * next shard to delete), s<generation> (shards of each generation not yet deleted).
 */
export const FAST_PATH_CLAIM = `
local base = KEYS[1]
local job, capacity, span, live, newShards = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', base, 'g', 't', 'n', 'c', 'cs')
local g, t, n = tonumber(state[1]), tonumber(state[2]), tonumber(state[3]) or 0
local c, cs = tonumber(state[4]) or 0, tonumber(state[5]) or 0
local shardsOf = {}

local function start(generation)
  g, t, n = generation, now, 0
  redis.call('HSET', base, 's' .. generation, newShards)
  shardsOf[generation] = tonumber(newShards)
end
if g == nil then
  start(0)
elseif now - t >= span then
  -- Idle for several spans: the generations that would have started meanwhile hold nothing.
  start(g + math.min(live, math.floor((now - t) / span)))
end

local function shards(generation)
  local count = shardsOf[generation]
  if count == nil then
    count = tonumber(redis.call('HGET', base, 's' .. generation)) or 0
    shardsOf[generation] = count
  end
  return count
end

local result = {}
for i = 6, #ARGV do
  local digest = ARGV[i]
  local b1, b2, b3, b4 = string.byte(digest, 1, 4)
  local point = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  local holder = false
  local generation = g
  local oldest = math.max(g - live + 1, c)
  while generation >= oldest and not holder do
    local count = shards(generation)
    if count > 0 then holder = redis.call('HGET', base .. ':' .. generation .. ':' .. (point % count), digest) end
    generation = generation - 1
  end
  if holder then
    result[i - 5] = holder
  else
    redis.call('HSET', base .. ':' .. g .. ':' .. (point % shards(g)), digest, job)
    result[i - 5] = ''
    n = n + 1
    if n >= capacity then start(g + 1) end
  end
end

-- Delete about 256 shards of generations that fell out of the window; more only when a second
-- generation fell out before the first was gone (jobs larger than a generation's deletion rate),
-- so that at most one dropped generation is ever left.
local budget = 256
while c <= g - live and (budget > 0 or c < g - live) do
  local count = shards(c)
  if cs >= count then
    redis.call('HDEL', base, 's' .. c)
    c, cs = c + 1, 0
  else
    local last = math.min(count, cs + math.max(budget, 256)) - 1
    local doomed = {}
    for s = cs, last do doomed[#doomed + 1] = base .. ':' .. c .. ':' .. s end
    redis.call('UNLINK', unpack(doomed))
    budget = budget - #doomed
    cs = last + 1
  end
end

redis.call('HSET', base, 'g', g, 't', t, 'n', n, 'c', c, 'cs', cs)
return result
`;
