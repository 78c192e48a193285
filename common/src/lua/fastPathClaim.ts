/**
 * Fast-path duplicate check for one job, in one round trip and one write per new pair.
 *
 * KEYS: the dedup key of each event, in job order.
 * ARGV[1]: the claiming job's id; ARGV[2]: TTL in seconds.
 * Returns: per key, '' when this call claimed it (the pair is new to the fast path), else the id of
 * the job that claimed it first.
 *
 * A claim is a plain `SET NX` of the job id and is never rewritten. It does not say by itself that
 * the row is stored: the worker skips an event only when the claiming job is another job that the
 * store has recorded as applied (`applied_jobs`, written in the same transaction as that job's
 * rows). So a claim left by a worker killed before its commit, by a job that never succeeded, or
 * by a job of a store that was since replaced or restored from a backup can never cause a skip:
 * the store decides those events, and its primary key is the authority.
 */
export const FAST_PATH_CLAIM = `
local result = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) then
    result[i] = ''
  else
    result[i] = redis.call('GET', key) or ''
  end
end
return result
`;
