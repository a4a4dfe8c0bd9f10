-- Sets a customer's traits (ProfileStore::UpdateTraits); MOVED, GONE and
-- the context version bump as in set_consent.lua. The traits hash holds
-- <name> -> serialised google.protobuf.Value and <name>:ms -> when it was
-- set.
--
-- KEYS[1]   traits hash
-- KEYS[2]   profile hash
-- KEYS[3]   merged_into redirect
-- KEYS[4]   erasure tombstone
-- KEYS[5]   merge record (a merge away has begun: {'MERGING'}, the caller
--           finishes it and follows the redirect)
--
-- ARGV[1]   "1" to replace every trait, "0" to update
-- ARGV[2..] per trait: name, serialised value, name:ms, ms (at most 100
--           traits: request validation)
--
-- Returns {'OK'}, {'MOVED', survivor}, {'MERGING'} or {'GONE'}.
if redis.call('EXISTS', KEYS[5]) == 1 then return {'MERGING'} end
local to = redis.call('GET', KEYS[3])
if to then return {'MOVED', to} end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('EXISTS', KEYS[4]) == 1 then
  return {'GONE'}
end
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
redis.call('HINCRBY', KEYS[2], 'v', 1)
return {'OK'}
