-- Commits a customer's new journey state after applying a batch of their
-- events (JourneyStore::ApplyBatch), and appends the change to the
-- cross-customer aggregates to the partition's outbox (folded later by the
-- Aggregator). Every key is in the customer's partition slot.
--
-- KEYS[1]   journey hash (v = version, s = state, with its applied ids;
--           into = the survivor while a merge moves it, take_merged_journey.lua)
-- KEYS[2]   erased-customer tombstone
-- KEYS[3]   merged_into redirect
-- KEYS[4]   the partition's outbox
-- KEYS[5]   the customers the profile service merged into this one
-- KEYS[6]   the partition's churn examples stream
-- KEYS[7]   the partition's due set (time-driven stage moves)
--
-- ARGV[1]   expected version ("0" = none)
-- ARGV[2]   new state (serialised JourneyState)
-- ARGV[3]   aggregate delta record ("" = no change)
-- ARGV[4]   how many merged customers the caller checked the ids against
-- ARGV[5]   churn example record ("" = none), for the churn learner
-- ARGV[6]   when the stage next changes by time alone, ms ("" = never)
-- ARGV[7]   the customer id (due set member)
--
-- Returns {'OK'}, {'ERASED'}, {'MOVED', survivor} or {'RETRY'} when the
-- version moved or a customer was merged into this one since the caller
-- read (whose applied ids it has not checked). The applied ids live in the
-- state, so an unchanged version means the ids the caller took as
-- unapplied still are. The version is also part of the profile service's
-- context version, so the new one stops cached agent contexts showing the
-- old journey (nothing here touches them).
-- One call for both in the common case: neither erased nor merged away.
if redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'ERASED'} end
  return {'MOVED', redis.call('GET', KEYS[3])}
end
local cur = redis.call('HMGET', KEYS[1], 'v', 'into')
if cur[2] then return {'MOVED', cur[2]} end
if (cur[1] or '0') ~= ARGV[1] or
   redis.call('SCARD', KEYS[5]) ~= tonumber(ARGV[4]) then
  return {'RETRY'}
end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[2])
if ARGV[3] ~= '' then redis.call('XADD', KEYS[4], '*', 'd', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('XADD', KEYS[6], '*', 'x', ARGV[5]) end
if ARGV[6] == '' then
  redis.call('ZREM', KEYS[7], ARGV[7])
else
  redis.call('ZADD', KEYS[7], ARGV[6], ARGV[7])
end
return {'OK'}
