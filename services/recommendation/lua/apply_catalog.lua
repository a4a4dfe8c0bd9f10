-- Loads a whole catalog unless it is the one loaded last
-- (RecommendationStore::ApplyCatalog).
--
-- KEYS[1]   the catalog hash (action id -> serialised Action, '#version',
--           '#seed' = digest of the catalog loaded last)
--
-- ARGV[1]   digest of the catalog
-- ARGV[2..] (action id, serialised Action) pairs
--
-- Returns the catalog version: unchanged when the digest matches, else
-- incremented.
if redis.call('HGET', KEYS[1], '#seed') == ARGV[1] then
  return tonumber(redis.call('HGET', KEYS[1], '#version') or '0')
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '#seed', ARGV[1])
return redis.call('HINCRBY', KEYS[1], '#version', 1)
