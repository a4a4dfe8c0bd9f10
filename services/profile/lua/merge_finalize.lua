-- Step 4 of a merge of M into S (profile_merge.cc), in M's slot, after the
-- fold and the repointing of M's identities: deletes M's data and leaves
-- the final redirect to the survivor. The merge record stays (with the
-- survivor) until the merge log entry is written.
--
-- KEYS[1]   M's merge record
-- KEYS[2]   M merged_into
-- KEYS[3]   M erasure tombstone
-- KEYS[4..] M's data keys (profile, identities, timeline, traits, consents,
--           consent history, cached contexts, merged ids, link records,
--           claims)
--
-- ARGV[1]   token of the record
-- ARGV[2]   survivor
--
-- Returns {'OK'}, {'STALE'} (the record is another attempt's or gone) or
-- {'GONE'} (M is being erased: the erasure deletes it).
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return {'STALE'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'GONE'} end
redis.call('DEL', unpack(KEYS, 4))
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'survivor', ARGV[2])
return {'OK'}
