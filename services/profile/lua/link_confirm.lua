-- Step 3 of linking identities (ProfileStore::Link, profile_resolve.cc),
-- in the customer's slot, after the index claims: records a provenance
-- entry for each identity claimed, and takes out of the identity set each
-- identity another customer claimed first. When the anchor was lost (two
-- first sightings raced) the caller released its claims and passes
-- abandon: a customer this attempt created and that holds nothing else is
-- deleted again.
--
-- KEYS[1]   the customer's identity set
-- KEYS[2]   their profile hash
-- KEYS[3]   their link records (provenance list)
-- KEYS[4]   their merged_into redirect
-- KEYS[5]   their erasure tombstone
-- KEYS[6]   their merge record
--
-- ARGV[1]   source (provenance)
-- ARGV[2]   now (ms)
-- ARGV[3]   "1" to abandon a new, empty customer, else "0"
-- ARGV[4..] pairs: "type:value", "linked" or "lost"
--
-- Returns {'ERASED'}, {'MERGING'} or {'MOVED', target} (nothing written:
-- the caller moves or releases its claims), else {'OK'}.
if redis.call('EXISTS', KEYS[5]) == 1 then return {'ERASED'} end
if redis.call('EXISTS', KEYS[6]) == 1 then return {'MERGING'} end
local moved = redis.call('GET', KEYS[4])
if moved then return {'MOVED', moved} end
local lost = false
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == 'linked' then
    redis.call('RPUSH', KEYS[3], 'link\31' .. ARGV[i] .. '\31' .. ARGV[1] .. '\31' .. ARGV[2])
  else
    if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then lost = true end
  end
end
if ARGV[3] == '1' and redis.call('SCARD', KEYS[1]) == 0 and
   not redis.call('HGET', KEYS[2], 's') then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return {'OK'}
end
if lost then redis.call('HINCRBY', KEYS[2], 'v', 1) end
return {'OK'}
