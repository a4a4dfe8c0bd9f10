-- Step 3 of merging customer M's journey into survivor S
-- (JourneyStore::Merge), in M's partition slot: deletes M's frozen journey
-- once step 2 folded it into S's (or found it folded before), and takes M
-- out of its partition's due set. When S was erased instead, M's share of
-- the aggregates is taken out too (the negative record, as Forget does):
-- M is part of the erased customer. A journey whose version is not the one
-- step 1 read is left alone (deleted before, by a redelivery).
--
-- KEYS[1]   M's journey hash
-- KEYS[2]   M's partition outbox
-- KEYS[3]   M's partition due set
--
-- ARGV[1]   M's version as step 1 read it
-- ARGV[2]   aggregate delta record ("" = none: folded into S)
-- ARGV[3]   M's id (due set member)
--
-- Returns {'OK'} or {'NOOP'}.
redis.call('ZREM', KEYS[3], ARGV[3])
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return {'NOOP'} end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('XADD', KEYS[2], '*', 'd', ARGV[2]) end
return {'OK'}
