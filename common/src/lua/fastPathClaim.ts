/**
 * Fast-path duplicate check for one batch, in one round trip.
 *
 * KEYS: the dedup key of each event, in batch order.
 * ARGV[1]: this attempt's pending token (`p:<jobId>`); ARGV[2]: the committed marker (the store id);
 * ARGV[3]: TTL in seconds.
 * Returns: per key, 1 when the key holds the committed marker (the row is committed: skip the
 * event), else 0 (new, pending in some job, or from another store: let the store decide).
 *
 * `SET NX` claims unseen keys with a pending token. Only a key rewritten to the committed marker
 * after the SQLite commit can cause a skip, so a worker killed between this check and its commit
 * loses nothing: the retried job finds its own pending token and goes to the store again.
 */
export const FAST_PATH_CLAIM = `
local result = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[3]) then
    result[i] = 0
  elseif redis.call('GET', key) == ARGV[2] then
    result[i] = 1
  else
    result[i] = 0
  end
end
return result
`;

/**
 * Marks pairs as committed, after the SQLite commit.
 *
 * KEYS: dedup keys of events whose rows are committed (inserted now or found already stored).
 * ARGV[1]: the committed marker (the store id); ARGV[2]: TTL in seconds.
 * Returns: the number of keys written.
 */
export const FAST_PATH_COMMIT = `
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
end
return #KEYS
`;
