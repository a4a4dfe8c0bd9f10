-- Folds the merged customer's journey into the survivor's
-- (JourneyStore::Merge).
--
-- KEYS[1]   survivor journey hash
-- KEYS[2]   survivor applied ids
-- KEYS[3]   survivor cached context
-- KEYS[4]   merged journey hash
-- KEYS[5]   merged applied ids
-- KEYS[6]   merged cached context
-- KEYS[7]   pain aggregates
-- KEYS[8]   funnel day
-- KEYS[9]   survivor's erased tombstone
-- KEYS[10]  survivor's merged_into redirect
--
-- ARGV[1]   survivor version ("0" = none)
-- ARGV[2]   merged version
-- ARGV[3]   new survivor state (serialised JourneyState)
-- ARGV[4]   stage transition field ("from>to"; "" = none)
-- ARGV[5]   funnel TTL (s)
-- ARGV[6..] aggregate field, delta pairs
--
-- Returns {'OK'}, {'ERASED'}, {'MOVED', survivor}, {'RETRY'} when either
-- version moved, or {'NOOP'} when the merged customer has no journey.
if redis.call('EXISTS', KEYS[9]) == 1 then return {'ERASED'} end
local into = redis.call('GET', KEYS[10])
if into then return {'MOVED', into} end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'RETRY'}
end
if (redis.call('HGET', KEYS[4], 'v') or '0') ~= ARGV[2] then
  return {'RETRY'}
end
if ARGV[2] == '0' then return {'NOOP'} end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[3])
redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[5], 'AGGREGATE', 'MAX')
redis.call('DEL', KEYS[4], KEYS[5], KEYS[3], KEYS[6])
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[8], ARGV[4], 1)
  redis.call('EXPIRE', KEYS[8], ARGV[5])
end
for i = 6, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[7], ARGV[i], ARGV[i + 1])
end
return {'OK'}
