-- Stores a customer's time-driven stage moves found by a sweep of the due
-- set (JourneyStore::SweepDue) and schedules their next due time. Every key
-- is in the customer's partition slot.
--
-- KEYS[1]   journey hash (v = version, s = state)
-- KEYS[2]   the partition's outbox
-- KEYS[3]   the partition's due set (member customer id, score due ms)
--
-- ARGV[1]   expected version ("0" = none: the customer is gone)
-- ARGV[2]   new state ("" = unchanged, only rescheduled)
-- ARGV[3]   aggregate delta record ("" = none), the moves dated when they
--           happened
-- ARGV[4]   next due time in ms ("" = none)
-- ARGV[5]   the customer id (due set member)
-- ARGV[6]   the due score the sweep read ("" = do not check): a commit in
--           between rescheduled, and the sweep's window may be stale
--
-- Returns {'OK'}, {'GONE'} when there is no journey (erased, merged away:
-- the member leaves the due set) or it is being merged away or {'RETRY'} when the version or the due
-- score moved (an event or another sweeper committed first and scheduled
-- its own due time; nothing written, so each move is counted once).
local cur = redis.call('HMGET', KEYS[1], 'v', 'into')
if cur[2] then
  -- Being merged away (take_merged_journey.lua): the merge moves it.
  redis.call('ZREM', KEYS[3], ARGV[5])
  return {'GONE'}
end
local v = cur[1] or '0'
if v ~= ARGV[1] then return {'RETRY'} end
if ARGV[6] ~= '' and
   tonumber(redis.call('ZSCORE', KEYS[3], ARGV[5]) or '-1') ~=
   tonumber(ARGV[6]) then
  return {'RETRY'}
end
if v == '0' then
  redis.call('ZREM', KEYS[3], ARGV[5])
  return {'GONE'}
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'v', tostring(tonumber(v) + 1), 's', ARGV[2])
  if ARGV[3] ~= '' then redis.call('XADD', KEYS[2], '*', 'd', ARGV[3]) end
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[3], ARGV[5])
else
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
end
return {'OK'}
