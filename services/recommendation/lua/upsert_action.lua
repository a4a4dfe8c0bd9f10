-- Adds or replaces one catalog action (RecommendationStore::UpsertAction).
--
-- KEYS[1]   the catalog hash (action id -> serialised Action, '#version')
--
-- ARGV[1]   action id
-- ARGV[2]   the serialised Action
--
-- Returns the new catalog version.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HINCRBY', KEYS[1], '#version', 1)
