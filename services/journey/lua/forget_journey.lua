-- Deletes a customer's journey (with its applied ids) and appends the
-- negative of their share of the pain aggregates to the partition's outbox
-- (JourneyStore::Forget). Every key is in the customer's partition slot.
--
-- KEYS[1]   journey hash
-- KEYS[2]   the partition's outbox
-- KEYS[3]   the partition's due set
--
-- ARGV[1]   expected version ("0" = none)
-- ARGV[2]   aggregate delta record ("" = none)
-- ARGV[3]   the customer id: leaves the due set in every case
--
-- Returns {'OK'}, {'RETRY'} when the version moved, {'NOOP'} when there
-- was no journey, or {'MERGING'} when it is being merged into another
-- customer's (take_merged_journey.lua): whether its share is already in
-- the survivor's is known in the survivor's slot only, so the caller
-- retries once the merge has finished (it deletes the journey, or takes
-- its share out itself when the survivor was erased).
redis.call('ZREM', KEYS[3], ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'v', 'into')
if (cur[1] or '0') ~= ARGV[1] then return {'RETRY'} end
if ARGV[1] == '0' then return {'NOOP'} end
if cur[2] then return {'MERGING'} end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('XADD', KEYS[2], '*', 'd', ARGV[2]) end
return {'OK'}
