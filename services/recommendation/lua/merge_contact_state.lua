-- Folds the merged customer's contact state into the survivor's
-- (RecommendationStore::MergeCustomers).
--
-- KEYS[1]   survivor shown actions
-- KEYS[2]   survivor held actions
-- KEYS[3]   survivor cool-downs
-- KEYS[4]   survivor's set of merged ids
-- KEYS[5]   merged shown actions
-- KEYS[6]   merged held actions
-- KEYS[7]   merged cool-downs
-- KEYS[8]   the survivor's merged_into redirect (the profile service's)
-- KEYS[9]   the survivor's erasure tombstone
--
-- ARGV[1]   merged customer id
--
-- Merge records can be handled out of order (replicas, retries): when the
-- survivor was itself merged away since, {'MOVED', its survivor} (fold
-- there); when it was erased, the merged customer's state goes too
-- ({'ERASED'}). Else {'DONE'}, or {'SEEN'} when this merge was folded
-- before.
if redis.call('EXISTS', KEYS[9]) == 1 then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  return {'ERASED'}
end
local into = redis.call('GET', KEYS[8])
if into then return {'MOVED', into} end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return {'SEEN'} end
for k = 1, 3 do
  local from, to = KEYS[k + 4], KEYS[k]
  if k < 3 then
    local e = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
    for i = 1, #e, 2 do redis.call('ZADD', to, e[i + 1], e[i]) end
  else
    local c = redis.call('HGETALL', from)
    for i = 1, #c, 2 do
      local cur = tonumber(redis.call('HGET', to, c[i]) or '0')
      if tonumber(c[i + 1]) > cur then redis.call('HSET', to, c[i], c[i + 1]) end
    end
  end
  local ttl = redis.call('PTTL', from)
  if ttl > 0 and redis.call('PTTL', to) < ttl then
    redis.call('PEXPIRE', to, ttl)
  end
  redis.call('DEL', from)
end
return {'DONE'}
