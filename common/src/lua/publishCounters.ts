/**
 * Mirrors the store's counters into the Redis stats hash, safely from many writers at once.
 *
 * KEYS[1]: the stats hash; KEYS[2]: the topics set.
 * ARGV[1..3]: received, unique_processed, duplicate_dropped (totals read from the store);
 * ARGV[4]: created_at (epoch ms); ARGV[5]: store id; ARGV[6..]: topic names to add.
 * Returns: 1 when the hash was reset because it described another store, else 0.
 *
 * Totals only grow, so each field keeps the largest value ever published: a worker that publishes
 * late cannot move a counter backwards, and after Redis loses its data the next publication
 * restores the exact totals. A hash left by another store (the database was replaced) is reset.
 */
export const PUBLISH_COUNTERS = `
local reset = 0
local storeId = redis.call('HGET', KEYS[1], 'store_id')
if storeId and storeId ~= ARGV[5] then
  redis.call('DEL', KEYS[1], KEYS[2])
  reset = 1
end
local fields = {'received', 'unique_processed', 'duplicate_dropped'}
for i, field in ipairs(fields) do
  local current = tonumber(redis.call('HGET', KEYS[1], field))
  if current == nil or current < tonumber(ARGV[i]) then
    redis.call('HSET', KEYS[1], field, ARGV[i])
  end
end
redis.call('HSET', KEYS[1], 'created_at', ARGV[4], 'store_id', ARGV[5])
if #ARGV >= 6 then
  redis.call('SADD', KEYS[2], unpack(ARGV, 6))
end
return reset
`;
