-- Step 1 of merging customer M's journey into survivor S
-- (JourneyStore::Merge), in M's partition slot: freezes M's journey (field
-- `into`: applies answer MOVED, sweeps leave it alone, Forget waits) and
-- returns it for the caller to fold into S's (step 2, merge_journeys.lua)
-- before M's is deleted (step 3, finish_merged_journey.lua). Idempotent: a
-- redelivered merge record freezes nothing new and reads the same state.
--
-- KEYS[1]   M's journey hash
--
-- ARGV[1]   the survivor's id (kept when M is frozen already)
--
-- Returns {'NOOP'} when M has no journey (never had events, or merged
-- before), else {'OK', {field, value, ...}}: the whole hash (v, s, into,
-- and f:<id> for each customer folded into M before).
if not redis.call('HGET', KEYS[1], 'v') then return {'NOOP'} end
if not redis.call('HGET', KEYS[1], 'into') then
  redis.call('HSET', KEYS[1], 'into', ARGV[1])
end
return {'OK', redis.call('HGETALL', KEYS[1])}
