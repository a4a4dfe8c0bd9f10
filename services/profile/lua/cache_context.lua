-- Caches an assembled agent context (ProfileStore::CacheContext) under the
-- context version the assembly read before reading the context's data, and
-- only if that version is still current: a write racing any change the
-- context shows (an event, consent, traits, a link, a merge, the journey)
-- writes nothing, so a stale context is never installed. Nor does it write
-- while the profile is missing or once an erasure has begun, so a write
-- that lands during or after an erasure (or after a merge moved the
-- customer away) cannot bring their data back.
--
-- The context version is "<v>.<journey v>" (ProfileStore::ContextReads
-- builds it the same way): the versions of the profile hash (every event,
-- link, trait, consent and merge bumps it) and of the journey; neither ever
-- decreases.
--
-- KEYS[1]   profile hash (v)
-- KEYS[2]   cached contexts (hash: v -> their version, signature -> context)
-- KEYS[3]   erasure tombstone
-- KEYS[4]   journey hash (the journey service's state; v -> its version)
--
-- ARGV[1]   signature of the request the context answers
-- ARGV[2]   the serialised context
-- ARGV[3]   TTL (ms)
-- ARGV[4]   the context version the assembly read
--
-- Returns 1 when cached, 0 when not.
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local version = (redis.call('HGET', KEYS[1], 'v') or '0') .. '.' ..
                (redis.call('HGET', KEYS[4], 'v') or '0')
if version ~= ARGV[4] then return 0 end
-- Contexts of an earlier version would never be served again.
if redis.call('HGET', KEYS[2], 'v') ~= version then redis.call('DEL', KEYS[2]) end
redis.call('HSET', KEYS[2], 'v', version, ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
