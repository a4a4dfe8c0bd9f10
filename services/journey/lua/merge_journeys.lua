-- Folds the merged customer's journey (with its applied ids) into the
-- survivor's (JourneyStore::Merge).
--
-- KEYS[1]   survivor journey hash
-- KEYS[2]   merged journey hash
-- KEYS[3]   the survivor's partition outbox
-- KEYS[4]   survivor's erased tombstone
-- KEYS[5]   survivor's merged_into redirect
-- KEYS[6]   the survivor's partition due set
--
-- ARGV[1]   survivor version ("0" = none)
-- ARGV[2]   merged version
-- ARGV[3]   new survivor state (serialised JourneyState)
-- ARGV[4]   aggregate delta record ("" = none), appended to the outbox
-- ARGV[5]   the survivor's next time-driven stage change, ms ("" = never)
-- ARGV[6]   the survivor's id (due set member). The merged customer's
--           member, in its own partition, leaves at its next sweep.
--
-- Returns {'OK'}, {'ERASED'}, {'MOVED', survivor}, {'RETRY'} when either
-- version moved, or {'NOOP'} when the merged customer has no journey. The
-- survivor's new version stops cached agent contexts showing their old
-- journey (apply_events.lua).
if redis.call('EXISTS', KEYS[4]) == 1 then return {'ERASED'} end
local into = redis.call('GET', KEYS[5])
if into then return {'MOVED', into} end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'RETRY'}
end
if (redis.call('HGET', KEYS[2], 'v') or '0') ~= ARGV[2] then
  return {'RETRY'}
end
if ARGV[2] == '0' then return {'NOOP'} end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[3])
redis.call('DEL', KEYS[2])
if ARGV[4] ~= '' then redis.call('XADD', KEYS[3], '*', 'd', ARGV[4]) end
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[6], ARGV[6])
else
  redis.call('ZADD', KEYS[6], ARGV[5], ARGV[6])
end
return {'OK'}
