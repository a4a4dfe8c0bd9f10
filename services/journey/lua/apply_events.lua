-- Writes a customer's new journey state after applying a batch of their
-- events (JourneyStore::ApplyBatch), and appends the change to the
-- cross-customer aggregates to the partition's outbox (folded later by the
-- Aggregator). Every key is in the customer's partition slot. n event ids:
--
-- KEYS[1]      journey hash (v = version, s = state)
-- KEYS[2]      applied event ids
-- KEYS[3]      erased-customer tombstone
-- KEYS[4]      merged_into redirect
-- KEYS[5]      the partition's outbox
--
-- ARGV[1]              expected version ("0" = none)
-- ARGV[2]              new state (serialised JourneyState)
-- ARGV[3]              now (ms)
-- ARGV[4]              applied window (ms)
-- ARGV[5]              aggregate delta record ("" = no change)
-- ARGV[6]              n
-- ARGV[7..6+n]         the event ids
--
-- Returns {'OK'}, {'ERASED'}, {'MOVED', survivor} or {'RETRY'} when the
-- version moved. Every script that changes the applied ids (apply, merge,
-- forget) also changes the version, so an unchanged version means the ids
-- the caller read as unapplied still are: no per-id check. The version is
-- also part of the profile service's context version, so the new one stops
-- cached agent contexts showing the old journey (nothing here touches them).
if redis.call('EXISTS', KEYS[3]) == 1 then return {'ERASED'} end
local into = redis.call('GET', KEYS[4])
if into then return {'MOVED', into} end
local n = tonumber(ARGV[6])
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'RETRY'}
end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[2])
for i = 7, 6 + n do redis.call('ZADD', KEYS[2], ARGV[3], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf',
           '(' .. tostring(tonumber(ARGV[3]) - tonumber(ARGV[4])))
if ARGV[5] ~= '' then redis.call('XADD', KEYS[5], '*', 'd', ARGV[5]) end
return {'OK'}
