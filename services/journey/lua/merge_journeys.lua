-- Step 2 of merging customer M's journey into survivor S
-- (JourneyStore::Merge), in S's partition slot: writes S's new state (both
-- states merged in C++, from M's state as step 1 froze it) and appends the
-- aggregate delta to S's partition outbox, once: the field `f:<M>` of S's
-- journey records that M was folded in, so a redelivered merge record
-- cannot count M twice. The ids folded into M before come along (f:<id>),
-- so a late step 2 of one of those merges, redirected to S, is refused
-- too.
--
-- KEYS[1]   S's journey hash
-- KEYS[2]   S's partition outbox
-- KEYS[3]   S's erased tombstone
-- KEYS[4]   S's merged_into redirect (the profile service's)
-- KEYS[5]   S's partition due set
--
-- ARGV[1]   S's version ("0" = none)
-- ARGV[2]   M's id
-- ARGV[3]   S's new state (serialised JourneyState)
-- ARGV[4]   aggregate delta record ("" = none), appended to the outbox
-- ARGV[5]   S's next time-driven stage change, ms ("" = never)
-- ARGV[6]   S's id (due set member)
-- ARGV[7..] the ids folded into M before
--
-- Returns {'OK'}, {'SEEN'} when M was folded into S before, {'ERASED'},
-- {'MOVED', where} when S was merged away or is being merged (fold there),
-- or {'RETRY'} when S's version moved. S's new version stops cached agent
-- contexts showing their old journey (apply_events.lua).
if redis.call('EXISTS', KEYS[3]) == 1 then return {'ERASED'} end
local redirect = redis.call('GET', KEYS[4])
if redirect then return {'MOVED', redirect} end
local cur = redis.call('HMGET', KEYS[1], 'v', 'into', 'f:' .. ARGV[2])
if cur[3] then return {'SEEN'} end
if cur[2] then return {'MOVED', cur[2]} end
if (cur[1] or '0') ~= ARGV[1] then return {'RETRY'} end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[3],
           'f:' .. ARGV[2], '1')
for i = 7, #ARGV do redis.call('HSET', KEYS[1], 'f:' .. ARGV[i], '1') end
if ARGV[4] ~= '' then redis.call('XADD', KEYS[2], '*', 'd', ARGV[4]) end
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[5], ARGV[6])
else
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[6])
end
return {'OK'}
