-- Caches an assembled agent context (ProfileStore::CacheContext). Writes
-- only while the profile exists and no erasure has begun, so a write that
-- lands during or after an erasure (or after a merge moved the customer
-- away) cannot bring their data back.
--
-- KEYS[1]   profile hash
-- KEYS[2]   cached contexts (hash signature -> context)
-- KEYS[3]   erasure tombstone
--
-- ARGV[1]   signature of the request the context answers
-- ARGV[2]   the serialised context
-- ARGV[3]   TTL (ms)
--
-- Returns 1 when cached, 0 when not.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
